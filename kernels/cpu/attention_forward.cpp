// Fused blockwise attention forward on the CPU (FlashAttention-2 style, keys-major score tiles).
//
// Work items are (batch, query head, query tile), scheduled dynamically over OpenMP threads.
// For one query tile the kernel packs Q^T once, then for every key tile the mask does not empty:
//   S^T = K_tile Q^T            (tile_gemm; rows are keys, so the softmax statistics of a query
//                                are a column and every softmax step is a vertical vector op)
//   mask (partial tiles only), running max, P^T = exp(S^T - max), running sum
//   acc = acc * exp(old max - new max) + P V
// The running (max, sum, acc) is the online form of the softmax state; at the end it becomes
// (out, lse) and, in merge_into_output mode, is folded into the caller's state with
// merge_softmax_row. Rescaling inside the loop costs one vector exp per query per key tile, which
// is why the tile loop keeps the unnormalised form instead of merging normalised states per tile.
#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/tile_gemm.h"
#include "kernels/cpu/tile_plan.h"
#include "kernels/cpu/vec_exp.h"
#include "kernels/softmax_merge.h"

namespace attnscale::kernels::cpu {

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io) {
  constexpr T neg_inf = -std::numeric_limits<T>::infinity();
  const AttentionShape& s = params.shape;
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  const int64_t group = s.q_heads / s.kv_heads;
  const auto scale = static_cast<T>(params.scale);
  const TilePlan plan(params.mask, params.q_positions, params.k_positions, s.batch,
                      params.tiles.q, params.tiles.k);
  const int64_t q_tile = plan.q_tile(), k_tile = plan.k_tile(), q_tiles = plan.q_tiles();
  const int64_t ld = round_up(q_tile, 16);  // row stride of the keys-major tiles
  const int64_t items = s.batch * s.q_heads * q_tiles;

#pragma omp parallel
  {
    const bool calling_thread = omp_get_thread_num() == 0;  // thread 0 is the caller
    std::vector<T> q_t(static_cast<size_t>(d * ld), T{0});  // Q^T of the tile: [d][ld]
    std::vector<T> score(static_cast<size_t>(k_tile * ld));  // S^T, then P^T: [keys][ld]
    std::vector<T> acc(static_cast<size_t>(q_tile * dv));
    std::vector<T> run_max(ld), run_sum(ld), tile_max(ld), shift(ld), rescale(ld);

#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t qt = item % q_tiles, bh = item / q_tiles;
      const int64_t b = bh / s.q_heads, h = bh % s.q_heads, kv = b * s.kv_heads + h / group;
      const int64_t q0 = plan.q_begin(qt), nq = plan.q_count(qt);
      const T* q = io.q.data() + (bh * n + q0) * d;
      const T* k = io.k.data() + kv * m * d;
      const T* v = io.v.data() + kv * m * dv;

      for (int64_t i = 0; i < nq; ++i)
        for (int64_t c = 0; c < d; ++c) q_t[c * ld + i] = q[i * d + c];
      std::fill(acc.begin(), acc.end(), T{0});
      std::fill(run_max.begin(), run_max.end(), neg_inf);
      std::fill(run_sum.begin(), run_sum.end(), T{0});

      for (int64_t kt = 0; kt < plan.k_tiles(); ++kt) {
        const TileKind kind = plan.kind(b, qt, kt);
        if (kind == TileKind::empty) continue;
        const int64_t k0 = plan.k_begin(kt), nk = plan.k_count(kt);
        tile_gemm<T>(nk, nq, d, k + k0 * d, d, 1, q_t.data(), ld, score.data(), ld, false);
        if (kind == TileKind::partial)
          mask_tile(plan.view(b), q0, nq, k0, nk, /*keys_major=*/true, score.data(), ld);

        std::fill(tile_max.begin(), tile_max.begin() + nq, neg_inf);
        for (int64_t j = 0; j < nk; ++j) {
          T* row = score.data() + j * ld;
          for (int64_t i = 0; i < nq; ++i) {
            const T x = row[i] * scale;
            row[i] = x;
            tile_max[i] = x > tile_max[i] ? x : tile_max[i];
          }
        }
        bool any_rescale = false;
        for (int64_t i = 0; i < nq; ++i) {
          const OnlineSoftmaxStep<T> step = online_softmax_step(run_max[i], tile_max[i]);
          rescale[i] = step.log_rescale;
          shift[i] = step.shift;
          any_rescale = any_rescale || rescale[i] != T{0};
        }
        if (any_rescale) {
          exp_array(rescale.data(), rescale.data(), nq);
          for (int64_t i = 0; i < nq; ++i) {
            if (rescale[i] == T{1}) continue;
            run_sum[i] *= rescale[i];
            T* acc_row = acc.data() + i * dv;
            for (int64_t c = 0; c < dv; ++c) acc_row[c] *= rescale[i];
          }
        }
        for (int64_t j = 0; j < nk; ++j)
          exp_shift_accumulate(score.data() + j * ld, shift.data(), run_sum.data(), nq);
        tile_gemm<T>(nq, dv, nk, score.data(), 1, ld, v + k0 * dv, dv, acc.data(), dv, true);
        if (calling_thread && params.progress) params.progress();
      }

      T* out = io.out.data() + (bh * n + q0) * dv;
      T* lse = io.lse.data() + bh * n + q0;
      for (int64_t i = 0; i < nq; ++i) {
        T* acc_row = acc.data() + i * dv;
        const T inv = run_sum[i] > T{0} ? T{1} / run_sum[i] : T{0};
        for (int64_t c = 0; c < dv; ++c) acc_row[c] *= inv;
        const T row_lse = online_softmax_lse(run_max[i], run_sum[i]);
        if (io.merge_into_output) {
          merge_softmax_row(out + i * dv, lse[i], acc_row, row_lse, dv);
        } else {
          std::copy(acc_row, acc_row + dv, out + i * dv);
          lse[i] = row_lse;
        }
      }
    }
  }
}

template void attention_forward<float>(const AttentionParams&,
                                       const AttentionForwardBuffers<float>&);
template void attention_forward<double>(const AttentionParams&,
                                        const AttentionForwardBuffers<double>&);

}  // namespace attnscale::kernels::cpu

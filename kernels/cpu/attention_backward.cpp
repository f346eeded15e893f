// Fused blockwise attention backward on the CPU (FlashAttention-2 style, recomputing from lse).
//
// Work items are (batch, kv head, chunk of key tiles): an item owns dK and dV of its key tiles, so
// those never race. For each key tile it packs K^T and V^T once, then for every query head of the
// group and every query tile the mask does not empty:
//   S  = Q K^T,  P = exp(scale*S - lse)          (rows with lse = -inf give P = 0)
//   dV += P^T dO,  dP = dO V^T,  dS = scale * P (dP - delta)
//   dQ += dS K,    dK += dS^T Q
// When there are fewer (batch, kv head) groups than threads, a group's key tiles are dealt
// round-robin to several chunks (balances causal work); chunk c > 0 accumulates dQ into its own
// buffer, summed into dq at the end. Memory: (chunks - 1) copies of dq, chunks <= threads.
#include <omp.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/tile_gemm.h"
#include "kernels/cpu/tile_plan.h"
#include "kernels/cpu/vec_exp.h"

namespace attnscale::kernels::cpu {

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io) {
  constexpr T neg_inf = -std::numeric_limits<T>::infinity();
  const AttentionShape& s = params.shape;
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  const int64_t group = s.q_heads / s.kv_heads;
  const auto scale = static_cast<T>(params.scale);
  const TilePlan plan(params.mask, params.q_positions, params.k_positions, s.batch,
                      params.tiles.backward_q, params.tiles.backward_k);
  const int64_t q_tile = plan.q_tile(), k_tile = plan.k_tile(), k_tiles = plan.k_tiles();
  const int64_t ld = round_up(k_tile, 16);  // row stride of the query-major tiles
  const int64_t groups = s.batch * s.kv_heads;
  const int64_t threads = omp_get_max_threads();
  const int64_t chunks = std::clamp<int64_t>((threads + groups - 1) / groups, 1,
                                             std::max<int64_t>(k_tiles, 1));
  const int64_t q_size = s.q_size();

  if (!io.accumulate_dq) std::fill(io.dq.begin(), io.dq.end(), T{0});
  std::vector<T> dq_partial(static_cast<size_t>((chunks - 1) * q_size), T{0});

#pragma omp parallel
  {
    const bool calling_thread = omp_get_thread_num() == 0;  // thread 0 is the caller
    std::vector<T> k_t(static_cast<size_t>(d * ld), T{0});   // K^T of the key tile: [d][ld]
    std::vector<T> v_t(static_cast<size_t>(dv * ld), T{0});  // V^T: [dv][ld]
    std::vector<T> prob(static_cast<size_t>(q_tile * ld));   // S, then P: [queries][ld]
    std::vector<T> dprob(static_cast<size_t>(q_tile * ld));  // dP, then dS
    std::vector<T> dk_acc(static_cast<size_t>(k_tile * d));
    std::vector<T> dv_acc(static_cast<size_t>(k_tile * dv));

#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < groups * chunks; ++item) {
      const int64_t chunk = item % chunks, kv = item / chunks;
      const int64_t b = kv / s.kv_heads, g = kv % s.kv_heads;
      const T* k = io.k.data() + kv * m * d;
      const T* v = io.v.data() + kv * m * dv;
      T* dq_base = chunk == 0 ? io.dq.data() : dq_partial.data() + (chunk - 1) * q_size;

      for (int64_t kt = chunk; kt < k_tiles; kt += chunks) {
        const int64_t k0 = plan.k_begin(kt), nk = plan.k_count(kt);
        for (int64_t j = 0; j < nk; ++j) {
          for (int64_t c = 0; c < d; ++c) k_t[c * ld + j] = k[(k0 + j) * d + c];
          for (int64_t c = 0; c < dv; ++c) v_t[c * ld + j] = v[(k0 + j) * dv + c];
        }
        std::fill(dk_acc.begin(), dk_acc.end(), T{0});
        std::fill(dv_acc.begin(), dv_acc.end(), T{0});

        for (int64_t h = g * group; h < (g + 1) * group; ++h) {
          const int64_t bh = b * s.q_heads + h;
          for (int64_t qt = 0; qt < plan.q_tiles(); ++qt) {
            const TileKind kind = plan.kind(b, qt, kt);
            if (kind == TileKind::empty) continue;
            const int64_t q0 = plan.q_begin(qt), nq = plan.q_count(qt);
            const T* q = io.q.data() + (bh * n + q0) * d;
            const T* dout = io.dout.data() + (bh * n + q0) * dv;
            const T* lse = io.lse.data() + bh * n + q0;
            const T* delta = io.delta.data() + bh * n + q0;
            T* dq = dq_base + (bh * n + q0) * d;

            tile_gemm<T>(nq, nk, d, q, d, 1, k_t.data(), ld, prob.data(), ld, false);
            if (kind == TileKind::partial)
              mask_tile(plan.view(b), q0, nq, k0, nk, /*keys_major=*/false, prob.data(), ld);
            for (int64_t i = 0; i < nq; ++i) {
              T* row = prob.data() + i * ld;
              if (lse[i] == neg_inf) std::fill(row, row + nk, T{0});
              else exp_scale_shift(row, scale, lse[i], nk);
            }
            tile_gemm<T>(nk, dv, nq, prob.data(), 1, ld, dout, dv, dv_acc.data(), dv, true);
            tile_gemm<T>(nq, nk, dv, dout, dv, 1, v_t.data(), ld, dprob.data(), ld, false);
            for (int64_t i = 0; i < nq; ++i) {
              const T* p = prob.data() + i * ld;
              T* ds = dprob.data() + i * ld;
              for (int64_t j = 0; j < nk; ++j) ds[j] = scale * p[j] * (ds[j] - delta[i]);
            }
            tile_gemm<T>(nq, d, nk, dprob.data(), ld, 1, k + k0 * d, d, dq, d, true);
            tile_gemm<T>(nk, d, nq, dprob.data(), 1, ld, q, d, dk_acc.data(), d, true);
            if (calling_thread && params.progress) params.progress();
          }
        }

        T* dk = io.dk.data() + (kv * m + k0) * d;
        T* dvo = io.dv.data() + (kv * m + k0) * dv;
        if (io.accumulate_dkv) {
          for (int64_t x = 0; x < nk * d; ++x) dk[x] += dk_acc[x];
          for (int64_t x = 0; x < nk * dv; ++x) dvo[x] += dv_acc[x];
        } else {
          std::copy(dk_acc.begin(), dk_acc.begin() + nk * d, dk);
          std::copy(dv_acc.begin(), dv_acc.begin() + nk * dv, dvo);
        }
      }
    }

    if (chunks > 1) {
#pragma omp for schedule(static)
      for (int64_t x = 0; x < q_size; ++x)
        for (int64_t c = 0; c < chunks - 1; ++c) io.dq[x] += dq_partial[c * q_size + x];
    }
  }
}

template void attention_backward<float>(const AttentionParams&,
                                        const AttentionBackwardBuffers<float>&);
template void attention_backward<double>(const AttentionParams&,
                                         const AttentionBackwardBuffers<double>&);

}  // namespace attnscale::kernels::cpu

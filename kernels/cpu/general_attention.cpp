// The general attention path on the CPU: score tiles from a ScoreFunction, softmax folded across
// key tiles with merge_softmax_row, or sparsemax over a row block. See kernels/general_attention.h.
#include "kernels/general_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/error.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/tile_gemm.h"
#include "kernels/cpu/tile_plan.h"
#include "kernels/cpu/vec_exp.h"
#include "kernels/softmax_merge.h"
#include "kernels/sparsemax.h"

namespace attnscale::kernels {

Normalizer parse_normalizer(const char* name) {
  if (std::strcmp(name, "softmax") == 0) return Normalizer::softmax;
  if (std::strcmp(name, "sparsemax") == 0) return Normalizer::sparsemax;
  throw UsageError(
      fmt::format("[attention] unknown normalizer '{}' (expected softmax or sparsemax)", name));
}

namespace {

template <typename T>
constexpr T neg_inf = -std::numeric_limits<T>::infinity();

void check_general(const AttentionParams& p, int64_t score_dim) {
  cpu::check_attention_params(p, /*check_scale=*/false);
  ATTNSCALE_CHECK(score_dim == p.shape.head_dim, "attention",
                  "score function reads rows of {} values, head_dim is {}", score_dim,
                  p.shape.head_dim);
}

// Scores of query rows [q0, q0+nq) against key rows [k0, k0+nk), masked, into scores (stride ld).
template <typename T>
void masked_scores(const ScoreFunction<T>& score, const cpu::TilePlan& plan, int64_t b,
                   TileKind kind, const T* q, int64_t q0, int64_t nq, const T* k, int64_t k0,
                   int64_t nk, T* scores, int64_t ld) {
  const int64_t d = score.dim();
  score.score_tile(q + q0 * d, nq, k + k0 * d, nk, scores, ld);
  if (kind == TileKind::partial)
    cpu::mask_tile(plan.view(b), q0, nq, k0, nk, /*keys_major=*/false, scores, ld);
}

// Sparsemax weights of query rows [q0, q0+nq) over all M keys: rows [nq, M].
template <typename T>
void sparsemax_rows(const ScoreFunction<T>& score, const cpu::TilePlan& plan, int64_t b,
                    int64_t qt, const T* q, const T* k, T* rows, T* scratch) {
  const int64_t q0 = plan.q_begin(qt), nq = plan.q_count(qt), m = plan.k_len();
  std::fill(rows, rows + nq * m, neg_inf<T>);
  for (int64_t kt = 0; kt < plan.k_tiles(); ++kt) {
    const TileKind kind = plan.kind(b, qt, kt);
    if (kind == TileKind::empty) continue;
    masked_scores(score, plan, b, kind, q, q0, nq, k, plan.k_begin(kt), plan.k_count(kt),
                  rows + plan.k_begin(kt), m);
  }
  for (int64_t i = 0; i < nq; ++i) {
    std::span<T> row(rows + i * m, static_cast<size_t>(m));
    sparsemax_forward<T>(row, row, std::span<T>(scratch, static_cast<size_t>(m)));
  }
}

}  // namespace

template <typename T>
void general_attention_forward(const AttentionParams& params, const ScoreFunction<T>& score,
                               Normalizer normalizer, const AttentionForwardBuffers<T>& io) {
  check_general(params, score.dim());
  const AttentionShape& s = params.shape;
  const bool softmax = normalizer == Normalizer::softmax;
  cpu::check_forward_buffers(s, io, /*with_lse=*/softmax);
  if (!softmax) {
    ATTNSCALE_CHECK(io.lse.empty() && !io.merge_into_output, "attention",
                    "sparsemax has no log-sum-exp: pass no lse and merge_into_output = false");
  }
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  const int64_t group = s.q_heads / s.kv_heads;
  const cpu::TilePlan plan(params.mask, params.q_positions, params.k_positions, s.batch,
                           params.tiles.q, params.tiles.k);
  const int64_t q_tile = plan.q_tile(), k_tile = plan.k_tile(), q_tiles = plan.q_tiles();
  const int64_t items = s.batch * s.q_heads * q_tiles;

#pragma omp parallel
  {
    // softmax: one score tile and its output; sparsemax: a row block and a sort buffer.
    std::vector<T> scores(static_cast<size_t>(softmax ? q_tile * k_tile : q_tile * m));
    std::vector<T> tile_out(static_cast<size_t>(softmax ? q_tile * dv : m));
    std::vector<T> tile_lse(static_cast<size_t>(q_tile));

#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t qt = item % q_tiles, bh = item / q_tiles;
      const int64_t b = bh / s.q_heads, kv = b * s.kv_heads + (bh % s.q_heads) / group;
      const int64_t q0 = plan.q_begin(qt), nq = plan.q_count(qt);
      const T* q = io.q.data() + bh * n * d;
      const T* k = io.k.data() + kv * m * d;
      const T* v = io.v.data() + kv * m * dv;
      T* out = io.out.data() + (bh * n + q0) * dv;

      if (!softmax) {
        sparsemax_rows(score, plan, b, qt, q, k, scores.data(), tile_out.data());
        cpu::tile_gemm<T>(nq, dv, m, scores.data(), m, 1, v, dv, out, dv, false);
        continue;
      }
      T* lse = io.lse.data() + bh * n + q0;
      if (!io.merge_into_output) {
        std::fill(out, out + nq * dv, T{0});
        std::fill(lse, lse + nq, neg_inf<T>);
      }
      for (int64_t kt = 0; kt < plan.k_tiles(); ++kt) {
        const TileKind kind = plan.kind(b, qt, kt);
        if (kind == TileKind::empty) continue;
        const int64_t k0 = plan.k_begin(kt), nk = plan.k_count(kt);
        masked_scores(score, plan, b, kind, q, q0, nq, k, k0, nk, scores.data(), k_tile);
        for (int64_t i = 0; i < nq; ++i) {
          T* row = scores.data() + i * k_tile;
          tile_lse[i] = neg_inf<T>;
          const T row_max = *std::max_element(row, row + nk);
          if (row_max == neg_inf<T>) {
            std::fill(row, row + nk, T{0});
            continue;
          }
          cpu::exp_scale_shift(row, T{1}, row_max, nk);
          T sum = 0;
          for (int64_t j = 0; j < nk; ++j) sum += row[j];
          for (int64_t j = 0; j < nk; ++j) row[j] /= sum;
          tile_lse[i] = row_max + std::log(sum);
        }
        cpu::tile_gemm<T>(nq, dv, nk, scores.data(), k_tile, 1, v + k0 * dv, dv,
                          tile_out.data(), dv, false);
        for (int64_t i = 0; i < nq; ++i)
          merge_softmax_row(out + i * dv, lse[i], tile_out.data() + i * dv, tile_lse[i], dv);
      }
    }
  }
}

template <typename T>
void general_attention_backward(const AttentionParams& params, const ScoreFunction<T>& score,
                                Normalizer normalizer, const AttentionBackwardBuffers<T>& io) {
  check_general(params, score.dim());
  const AttentionShape& s = params.shape;
  const bool softmax = normalizer == Normalizer::softmax;
  cpu::check_backward_buffers(s, io, /*with_lse=*/softmax);
  if (!softmax) {
    ATTNSCALE_CHECK(io.lse.empty() && io.delta.empty(), "attention",
                    "sparsemax backward recomputes its weights: pass no lse and no delta");
  }
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  const int64_t group = s.q_heads / s.kv_heads;
  const cpu::TilePlan plan(params.mask, params.q_positions, params.k_positions, s.batch,
                           params.tiles.q, params.tiles.k);
  const int64_t q_tile = plan.q_tile(), k_tile = plan.k_tile();
  const int64_t groups = s.batch * s.kv_heads;
  if (!io.accumulate_dq) std::fill(io.dq.begin(), io.dq.end(), T{0});
  if (!io.accumulate_dkv) {
    std::fill(io.dk.begin(), io.dk.end(), T{0});
    std::fill(io.dv.begin(), io.dv.end(), T{0});
  }

#pragma omp parallel
  {
    const int64_t width = softmax ? k_tile : m;  // columns of the weight buffers
    std::vector<T> prob(static_cast<size_t>(q_tile * width));
    std::vector<T> dprob(static_cast<size_t>(q_tile * width));
    std::vector<T> scratch(static_cast<size_t>(m));

#pragma omp for schedule(dynamic, 1)
    for (int64_t kv = 0; kv < groups; ++kv) {
      const int64_t b = kv / s.kv_heads, g = kv % s.kv_heads;
      const T* k = io.k.data() + kv * m * d;
      const T* v = io.v.data() + kv * m * dv;
      T* dk = io.dk.data() + kv * m * d;
      T* dvo = io.dv.data() + kv * m * dv;
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        const int64_t bh = b * s.q_heads + h;
        const T* q = io.q.data() + bh * n * d;
        T* dq = io.dq.data() + bh * n * d;
        for (int64_t qt = 0; qt < plan.q_tiles(); ++qt) {
          const int64_t q0 = plan.q_begin(qt), nq = plan.q_count(qt);
          const T* dout = io.dout.data() + (bh * n + q0) * dv;
          if (!softmax) {
            sparsemax_rows(score, plan, b, qt, q, k, prob.data(), scratch.data());
            cpu::rows_times_rows(dout, nq, v, m, dv, dprob.data(), m);
            for (int64_t i = 0; i < nq; ++i) {
              const auto row = static_cast<size_t>(i * m);
              sparsemax_backward<T>(std::span<const T>(prob.data() + row, m),
                                    std::span<const T>(dprob.data() + row, m),
                                    std::span<T>(dprob.data() + row, m));
            }
            cpu::tile_gemm<T>(m, dv, nq, prob.data(), 1, m, dout, dv, dvo, dv, true);
            for (int64_t kt = 0; kt < plan.k_tiles(); ++kt) {
              if (plan.kind(b, qt, kt) == TileKind::empty) continue;
              const int64_t k0 = plan.k_begin(kt);
              score.backward_tile(q + q0 * d, nq, k + k0 * d, plan.k_count(kt),
                                  dprob.data() + k0, m, dq + q0 * d, dk + k0 * d);
            }
            continue;
          }
          const T* lse = io.lse.data() + bh * n + q0;
          const T* delta = io.delta.data() + bh * n + q0;
          for (int64_t kt = 0; kt < plan.k_tiles(); ++kt) {
            const TileKind kind = plan.kind(b, qt, kt);
            if (kind == TileKind::empty) continue;
            const int64_t k0 = plan.k_begin(kt), nk = plan.k_count(kt);
            masked_scores(score, plan, b, kind, q, q0, nq, k, k0, nk, prob.data(), k_tile);
            for (int64_t i = 0; i < nq; ++i) {
              T* row = prob.data() + i * k_tile;
              if (lse[i] == neg_inf<T>) std::fill(row, row + nk, T{0});
              else cpu::exp_scale_shift(row, T{1}, lse[i], nk);
            }
            cpu::rows_times_rows(dout, nq, v + k0 * dv, nk, dv, dprob.data(), k_tile);
            for (int64_t i = 0; i < nq; ++i)
              for (int64_t j = 0; j < nk; ++j) {
                const int64_t x = i * k_tile + j;
                dprob[x] = prob[x] * (dprob[x] - delta[i]);
              }
            cpu::tile_gemm<T>(nk, dv, nq, prob.data(), 1, k_tile, dout, dv, dvo + k0 * dv, dv,
                              true);
            score.backward_tile(q + q0 * d, nq, k + k0 * d, nk, dprob.data(), k_tile,
                                dq + q0 * d, dk + k0 * d);
          }
        }
      }
    }
  }
}

template void general_attention_forward<float>(const AttentionParams&, const ScoreFunction<float>&,
                                               Normalizer, const AttentionForwardBuffers<float>&);
template void general_attention_forward<double>(const AttentionParams&,
                                                const ScoreFunction<double>&, Normalizer,
                                                const AttentionForwardBuffers<double>&);
template void general_attention_backward<float>(const AttentionParams&,
                                                const ScoreFunction<float>&, Normalizer,
                                                const AttentionBackwardBuffers<float>&);
template void general_attention_backward<double>(const AttentionParams&,
                                                 const ScoreFunction<double>&, Normalizer,
                                                 const AttentionBackwardBuffers<double>&);

}  // namespace attnscale::kernels

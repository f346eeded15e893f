// The online-softmax state and its one merge function. A state for one query row is the
// normalised output `out` (Dv values) and the log-sum-exp `lse` of the scores it covers
// (natural log). A row that saw no allowed key has lse = -inf and out = 0.
//
// Merging two states over disjoint key sets gives the state over their union:
//   lse = log(exp(lse_a) + exp(lse_b)),  out = out_a * exp(lse_a - lse) + out_b * exp(lse_b - lse)
// evaluated from the gap exp(min - max) <= 1 so that it never overflows, keeps its digits when
// |lse| is large, and handles -inf.
// The fused kernel (across key tiles), ring attention (across steps) and the merge across ranks
// (distributed/context_parallel/merge_states.h) all call merge_softmax_row / merge_softmax_states.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

#include "base/error.h"

namespace attnscale::kernels {

// Merges (out_b, lse_b) into (out, lse) in place, for one row of `dv` values.
template <typename T>
inline void merge_softmax_row(T* out, T& lse, const T* out_b, T lse_b, int64_t dv) {
  constexpr T neg_inf = -std::numeric_limits<T>::infinity();
  if (lse_b == neg_inf) return;  // b covers no allowed key
  if (lse == neg_inf) {
    for (int64_t c = 0; c < dv; ++c) out[c] = out_b[c];
    lse = lse_b;
    return;
  }
  // Weights from the gap alone: exp(lse - merged) would subtract two large numbers and lose
  // digits when |lse| is large.
  const bool a_larger = lse >= lse_b;
  const T gap = std::exp(a_larger ? lse_b - lse : lse - lse_b);  // in [0, 1]
  const T weight_larger = T{1} / (T{1} + gap), weight_smaller = gap * weight_larger;
  const T weight_a = a_larger ? weight_larger : weight_smaller;
  const T weight_b = a_larger ? weight_smaller : weight_larger;
  for (int64_t c = 0; c < dv; ++c) out[c] = out[c] * weight_a + out_b[c] * weight_b;
  lse = (a_larger ? lse : lse_b) + std::log1p(gap);
}

// Merges `rows` states laid out as out [rows, dv] and lse [rows] into (out, lse).
template <typename T>
inline void merge_softmax_states(std::span<T> out, std::span<T> lse, std::span<const T> out_b,
                                 std::span<const T> lse_b, int64_t dv) {
  const auto rows = static_cast<int64_t>(lse.size());
  ATTNSCALE_CHECK(lse_b.size() == lse.size() && out.size() == lse.size() * dv &&
                      out_b.size() == out.size(),
                  "softmax_merge", "states disagree: out {} / {}, lse {} / {}, dv {}", out.size(),
                  out_b.size(), lse.size(), lse_b.size(), dv);
  for (int64_t r = 0; r < rows; ++r)
    merge_softmax_row(out.data() + r * dv, lse[r], out_b.data() + r * dv, lse_b[r], dv);
}

}  // namespace attnscale::kernels

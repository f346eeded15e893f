// The online-softmax state and its one merge function. A state for one query row is the
// normalised output `out` (Dv values) and the log-sum-exp `lse` of the scores it covers
// (natural log). A row that saw no allowed key has lse = -inf and out = 0.
//
// Merging two states over disjoint key sets gives the state over their union:
//   lse = log(exp(lse_a) + exp(lse_b)),  out = out_a * exp(lse_a - lse) + out_b * exp(lse_b - lse)
// evaluated from the gap exp(min - max) <= 1 so that it never overflows, keeps its digits when
// |lse| is large, and handles -inf.
// Ring attention (across steps), the merge across ranks
// (distributed/context_parallel/merge_states.h) and the fused
// kernels' merge_into_output mode (CPU and CUDA) all call merge_softmax_row / merge_softmax_states.
//
// Inside a fused kernel the state is kept unnormalised across key tiles (running max, running
// sum, accumulator): online_softmax_step and online_softmax_lse are that form's per-row update
// and its conversion to lse, shared by the CPU and the CUDA kernels.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/host_device.h"

namespace attnscale::kernels {

// -infinity of T, callable from device code (std::numeric_limits is constexpr host-only there).
template <typename T>
ATTNSCALE_HD constexpr T neg_infinity() {
  return -static_cast<T>(__builtin_huge_val());
}

// One key tile's update of a query row's running max: `shift` is what the tile's scores are
// shifted by before exp (the new max, or 0 while nothing was seen), `log_rescale` the exponent
// that rescales the old running sum and accumulator (0 leaves them alone).
template <typename T>
struct OnlineSoftmaxStep {
  T shift;
  T log_rescale;
};

template <typename T>
ATTNSCALE_HD inline OnlineSoftmaxStep<T> online_softmax_step(T& run_max, T tile_max) {
  constexpr T neg_inf = neg_infinity<T>();
  const T new_max = run_max > tile_max ? run_max : tile_max;
  // Both -inf (no allowed key yet): nothing to shift or rescale.
  const OnlineSoftmaxStep<T> step{new_max == neg_inf ? T{0} : new_max,
                                  new_max == neg_inf ? T{0} : run_max - new_max};
  run_max = new_max;
  return step;
}

// lse of a finished row: -inf when the row saw no allowed key (its sum is 0).
template <typename T>
ATTNSCALE_HD inline T online_softmax_lse(T run_max, T run_sum) {
  return run_sum > T{0} ? run_max + std::log(run_sum) : neg_infinity<T>();
}

// Merges (out_b, lse_b) into (out, lse) in place, for one row of `dv` values.
template <typename T>
ATTNSCALE_HD inline void merge_softmax_row(T* out, T& lse, const T* out_b, T lse_b, int64_t dv) {
  constexpr T neg_inf = neg_infinity<T>();
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

// Throws UsageError "[softmax_merge] ..." unless out and out_b hold lse.size() rows of dv values
// and lse_b as many rows as lse. Out of line so that device code can include this header.
void check_softmax_states(size_t out, size_t out_b, size_t lse, size_t lse_b, int64_t dv);

// Merges `rows` states laid out as out [rows, dv] and lse [rows] into (out, lse).
template <typename T>
inline void merge_softmax_states(std::span<T> out, std::span<T> lse, std::span<const T> out_b,
                                 std::span<const T> lse_b, int64_t dv) {
  check_softmax_states(out.size(), out_b.size(), lse.size(), lse_b.size(), dv);
  const auto rows = static_cast<int64_t>(lse.size());
  for (int64_t r = 0; r < rows; ++r)
    merge_softmax_row(out.data() + r * dv, lse[r], out_b.data() + r * dv, lse_b[r], dv);
}

}  // namespace attnscale::kernels

// Sparsemax (Martins & Astudillo 2016, arXiv:1602.02068): the Euclidean projection of a score row
// z onto the probability simplex, p = max(z - tau, 0) with tau chosen so that sum(p) = 1.
// Exact and sort-based: sort z descending, k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
// tau = (sum_{j<=k} z_(j) - 1) / k.
// Entries equal to -inf are masked: they get p = 0. A row with no finite entry gets p = 0
// everywhere (the fully-masked-row convention of the attention kernels).
//
// The per-entry formulas below are ATTNSCALE_HD: the CPU kernels (kernels/cpu/sparsemax.cpp,
// kernels/cpu/general_attention.cpp) and the CUDA kernels (kernels/cuda/sparsemax*.cu) use them, so
// the weights and gradients are the same expressions on both devices; only how tau is found
// differs (a sort here, Michelot's iteration on the GPU, both exact).
#pragma once

#include <cstdint>
#include <span>

#include "kernels/host_device.h"

namespace attnscale::kernels {

// The threshold of a support of `count` entries summing to `sum`: sum(max(z - tau, 0)) = 1 over it.
template <typename T>
ATTNSCALE_HD inline T sparsemax_support_threshold(T sum, T count) {
  return (sum - T(1)) / count;
}

// The weight of score z under threshold tau: max(z - tau, 0) (a NaN score stays NaN, as std::max).
template <typename T>
ATTNSCALE_HD inline T sparsemax_weight(T z, T tau) {
  const T p = z - tau;
  return p < T(0) ? T(0) : p;
}

// The mean of dp over the support ({p > 0}, `count` entries summing to `sum`); 0 for an empty one.
template <typename T>
ATTNSCALE_HD inline T sparsemax_support_mean(T sum, T count) {
  return count > T(0) ? sum / count : T(0);
}

// dz of one entry: dp - mean on the support, 0 elsewhere.
template <typename T>
ATTNSCALE_HD inline T sparsemax_grad(T p, T dp, T support_mean) {
  return p > T(0) ? dp - support_mean : T(0);
}

// The threshold tau of z (+inf when z has no finite entry). scratch: at least z.size() entries.
template <typename T>
T sparsemax_threshold(std::span<const T> z, std::span<T> scratch);

// p = sparsemax(z). scratch: at least z.size() entries, distinct from p (p may alias z).
template <typename T>
void sparsemax_forward(std::span<const T> z, std::span<T> p, std::span<T> scratch);

// Backward through p = sparsemax(z): with S = {i : p_i > 0},
//   dz_i = dp_i - mean_{j in S} dp_j for i in S, and 0 elsewhere.
template <typename T>
void sparsemax_backward(std::span<const T> p, std::span<const T> dp, std::span<T> dz);

}  // namespace attnscale::kernels

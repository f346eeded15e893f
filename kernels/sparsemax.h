// Sparsemax (Martins & Astudillo 2016, arXiv:1602.02068): the Euclidean projection of a score row
// z onto the probability simplex, p = max(z - tau, 0) with tau chosen so that sum(p) = 1.
// Exact and sort-based: sort z descending, k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)},
// tau = (sum_{j<=k} z_(j) - 1) / k.
// Entries equal to -inf are masked: they get p = 0. A row with no finite entry gets p = 0
// everywhere (the fully-masked-row convention of the attention kernels).
#pragma once

#include <cstdint>
#include <span>

namespace attnscale::kernels {

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

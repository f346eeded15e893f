#include "kernels/sparsemax.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "base/error.h"

namespace attnscale::kernels {

template <typename T>
T sparsemax_threshold(std::span<const T> z, std::span<T> scratch) {
  ATTNSCALE_CHECK(scratch.size() >= z.size(), "sparsemax", "scratch has {} entries, needs {}",
                  scratch.size(), z.size());
  size_t count = 0;
  for (const T x : z)
    if (x != -std::numeric_limits<T>::infinity()) scratch[count++] = x;
  if (count == 0) return std::numeric_limits<T>::infinity();
  std::sort(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(count),
            std::greater<T>());
  // Support size k: the largest k with 1 + k * z_(k) > cumulative sum of the top k.
  T cumulative = 0, support_sum = scratch[0];
  size_t support = 1;
  for (size_t k = 1; k <= count; ++k) {
    cumulative += scratch[k - 1];
    if (T{1} + static_cast<T>(k) * scratch[k - 1] > cumulative) {
      support = k;
      support_sum = cumulative;
    }
  }
  return sparsemax_support_threshold(support_sum, static_cast<T>(support));
}

template <typename T>
void sparsemax_forward(std::span<const T> z, std::span<T> p, std::span<T> scratch) {
  ATTNSCALE_CHECK(p.size() == z.size(), "sparsemax", "p has {} entries, z has {}", p.size(),
                  z.size());
  const T tau = sparsemax_threshold(z, scratch);
  for (size_t i = 0; i < z.size(); ++i) p[i] = sparsemax_weight(z[i], tau);
}

template <typename T>
void sparsemax_backward(std::span<const T> p, std::span<const T> dp, std::span<T> dz) {
  ATTNSCALE_CHECK(p.size() == dp.size() && p.size() == dz.size(), "sparsemax",
                  "p ({}), dp ({}) and dz ({}) must have the same size", p.size(), dp.size(),
                  dz.size());
  T sum = 0;
  size_t support = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] > T{0}) sum += dp[i], ++support;
  const T mean = sparsemax_support_mean(sum, static_cast<T>(support));
  for (size_t i = 0; i < p.size(); ++i) dz[i] = sparsemax_grad(p[i], dp[i], mean);
}

template float sparsemax_threshold<float>(std::span<const float>, std::span<float>);
template double sparsemax_threshold<double>(std::span<const double>, std::span<double>);
template void sparsemax_forward<float>(std::span<const float>, std::span<float>, std::span<float>);
template void sparsemax_forward<double>(std::span<const double>, std::span<double>,
                                        std::span<double>);
template void sparsemax_backward<float>(std::span<const float>, std::span<const float>,
                                        std::span<float>);
template void sparsemax_backward<double>(std::span<const double>, std::span<const double>,
                                         std::span<double>);

}  // namespace attnscale::kernels

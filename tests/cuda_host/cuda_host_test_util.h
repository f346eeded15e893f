// Helpers of the cuda_host tests: the CUDA kernels' sources run on the host emulator
// (kernels/cuda/primitives.cuh) and are compared with the CPU kernels on the same inputs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/stream.h"

namespace attnscale::test {

// The emulator runs every launch before returning, so any stream will do.
inline constexpr cuda::Stream kStream = nullptr;

// n values uniform in [low, high).
template <typename T>
std::vector<T> uniform(int64_t n, uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<T> v(static_cast<size_t>(n));
  for (T& x : v) x = static_cast<T>(dist(engine));
  return v;
}

// Tolerances of a comparison: |got - want| <= atol + rtol * |want|.
struct Tolerance {
  double rtol;
  double atol;
};

template <typename T>
constexpr Tolerance default_tolerance() {
  return sizeof(T) == 4 ? Tolerance{2e-5, 1e-6} : Tolerance{1e-12, 1e-14};
}

// Every element within tolerance; a NaN on either side fails, infinities must match exactly. On
// failure: how many elements differ and the worst one.
template <typename T>
::testing::AssertionResult all_close(const std::vector<T>& got, const std::vector<T>& want,
                                     Tolerance tol = default_tolerance<T>()) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    double excess;
    if (std::isnan(g) || std::isnan(w)) {
      excess = INFINITY;
    } else if (std::isinf(g) || std::isinf(w)) {
      excess = g == w ? 0 : INFINITY;
    } else {
      excess = std::abs(g - w) - (tol.atol + tol.rtol * std::abs(w));
    }
    if (excess > 0) {
      ++bad;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ (rtol " << tol.rtol
                                       << ", atol " << tol.atol << "); worst at " << worst << ": got "
                                       << static_cast<double>(got[worst]) << ", want "
                                       << static_cast<double>(want[worst]);
}

}  // namespace attnscale::test

// Reductions over one contiguous row that the softmax and cross-entropy kernels share. Each loop is
// a simd reduction, so it vectorises (float exp comes from vec_math.h).
#pragma once

#include <cstdint>
#include <limits>

#include "kernels/cpu/vec_math.h"

namespace attnscale::kernels {

template <typename T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// sum_i exp(x[i] - shift), also storing each term in out when out is not null.
template <typename T>
T row_sum_exp(const T* x, int64_t n, T shift, T* out = nullptr) {
  T total = 0;
  if (out) {
#pragma omp simd reduction(+ : total)
    for (int64_t i = 0; i < n; ++i) {
      const T e = math_for<T>::exp(x[i] - shift);
      out[i] = e;
      total += e;
    }
  } else {
#pragma omp simd reduction(+ : total)
    for (int64_t i = 0; i < n; ++i) total += math_for<T>::exp(x[i] - shift);
  }
  return total;
}

}  // namespace attnscale::kernels

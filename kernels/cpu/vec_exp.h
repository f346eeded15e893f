// Vectorised exp for the attention kernels' softmax steps. exp(-inf) is exactly 0 (masked scores
// must vanish, not become 1e-38). float: the active SIMD variant (kernels/cpu/simd_kernels.h;
// Cody-Waite range reduction and a degree-6 polynomial, relative error below 2e-7); double (the
// gradient-check type): std::exp.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/simd_kernels.h"

namespace attnscale::kernels::cpu {

// x[i] = exp(x[i] - shift[i]); sum[i] += x[i], for i < n (one key row of a transposed score tile).
template <typename T>
inline void exp_shift_accumulate(T* x, const T* shift, T* sum, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    simd_kernels().exp_shift_accumulate_f32(x, shift, sum, n);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      x[i] = std::exp(x[i] - shift[i]);
      sum[i] += x[i];
    }
  }
}

// x[i] = exp(x[i] * scale - shift), for i < n (one query row of a score tile).
template <typename T>
inline void exp_scale_shift(T* x, T scale, T shift, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    simd_kernels().exp_scale_shift_f32(x, scale, shift, n);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] * scale - shift);
  }
}

// y[i] = exp(x[i]) for i < n.
template <typename T>
inline void exp_array(const T* x, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    simd_kernels().exp_array_f32(x, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
  }
}

}  // namespace attnscale::kernels::cpu

// The CPU kernels written with explicit SIMD, once per instruction set: a table of function
// pointers per variant (simd_avx512.cpp, simd_avx2.cpp compile simd_kernels_impl.h with their own
// target flags), and the table of the active variant (kernels/isa.h), chosen once per process.
// Callers go through simd_kernels(); an indirect call per tile or row costs nothing measurable
// (benchmarks/bench_attention, README "Build options").
#pragma once

#include <atomic>
#include <cstdint>

#include "kernels/isa.h"
#include "kernels/optim.h"

namespace attnscale::kernels::cpu {

template <typename T>
struct OptimKernels {
  void (*sgd_update)(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdStep& step);
  void (*adam_update)(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamStep& step);
  double (*sum_of_squares)(int64_t n, const T* x);
};

struct SimdKernels {
  Isa isa;
  // tile_gemm<float> (kernels/cpu/tile_gemm.h).
  void (*tile_gemm_f32)(int64_t rows, int64_t cols, int64_t depth, const float* a, int64_t a_row, int64_t a_k,
                        const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
  // The float forms of kernels/cpu/vec_exp.h.
  void (*exp_shift_accumulate_f32)(float* x, const float* shift, float* sum, int64_t n);
  void (*exp_scale_shift_f32)(float* x, float scale, float shift, int64_t n);
  void (*exp_array_f32)(const float* x, float* y, int64_t n);
  OptimKernels<float> optim_f32;
  OptimKernels<double> optim_f64;

  template <typename T>
  const OptimKernels<T>& optim() const {
    if constexpr (sizeof(T) == sizeof(float)) return optim_f32;
    else return optim_f64;
  }
};

extern const SimdKernels kAvx2Kernels;
extern const SimdKernels kAvx512Kernels;

namespace detail {
extern std::atomic<const SimdKernels*> active_kernels;  // null until the first call chooses
const SimdKernels& choose_kernels();
}  // namespace detail

// The active variant's table.
inline const SimdKernels& simd_kernels() {
  const SimdKernels* k = detail::active_kernels.load(std::memory_order_relaxed);
  return k ? *k : detail::choose_kernels();
}

}  // namespace attnscale::kernels::cpu

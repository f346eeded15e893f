#include "kernels/cpu/tile_gemm.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/simd_kernels.h"

namespace attnscale::kernels::cpu {

template <typename T>
void tile_gemm(int64_t rows, int64_t cols, int64_t depth, const T* a, int64_t a_row, int64_t a_k,
               const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r) {
    T* c_row = c + r * ldc;
    if (!accumulate) std::fill(c_row, c_row + cols, T{0});
    for (int64_t k = 0; k < depth; ++k) {
      const T a_rk = a[r * a_row + k * a_k];
      const T* b_row = b + k * ldb;
      for (int64_t j = 0; j < cols; ++j) c_row[j] += a_rk * b_row[j];
    }
  }
}

// float: the active SIMD variant's register-blocked micro-kernels (kernels/cpu/simd_kernels_impl.h).
template <>
void tile_gemm<float>(int64_t rows, int64_t cols, int64_t depth, const float* a, int64_t a_row,
                      int64_t a_k, const float* b, int64_t ldb, float* c, int64_t ldc,
                      bool accumulate) {
  simd_kernels().tile_gemm_f32(rows, cols, depth, a, a_row, a_k, b, ldb, c, ldc, accumulate);
}

template <typename T>
void rows_times_rows(const T* a, int64_t a_rows, const T* b, int64_t b_rows, int64_t n, T* c,
                     int64_t ldc) {
  std::vector<T> b_t(static_cast<size_t>(n * b_rows));
  for (int64_t j = 0; j < b_rows; ++j)
    for (int64_t x = 0; x < n; ++x) b_t[x * b_rows + j] = b[j * n + x];
  tile_gemm<T>(a_rows, b_rows, n, a, n, 1, b_t.data(), b_rows, c, ldc, false);
}

template void rows_times_rows<float>(const float*, int64_t, const float*, int64_t, int64_t,
                                     float*, int64_t);
template void rows_times_rows<double>(const double*, int64_t, const double*, int64_t, int64_t,
                                      double*, int64_t);

template void tile_gemm<float>(int64_t, int64_t, int64_t, const float*, int64_t, int64_t,
                               const float*, int64_t, float*, int64_t, bool);
template void tile_gemm<double>(int64_t, int64_t, int64_t, const double*, int64_t, int64_t,
                                const double*, int64_t, double*, int64_t, bool);

}  // namespace attnscale::kernels::cpu

#include "kernels/cpu/tile_gemm.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

#if defined(__AVX512F__)
namespace {

constexpr int kRows = 6;     // rows per register block
constexpr int kVectors = 4;  // 16-float vectors per register block: 64 columns

// One register block: R rows x W vectors; the last vector's columns are limited by `tail`.
template <int R, int W>
void block_f32(int64_t depth, const float* a, int64_t a_row, int64_t a_k, const float* b,
               int64_t ldb, float* c, int64_t ldc, bool accumulate, __mmask16 tail) {
  __m512 acc[R][W];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w)
      acc[r][w] = accumulate ? _mm512_maskz_loadu_ps(w == W - 1 ? tail : __mmask16(0xFFFF),
                                                     c + r * ldc + 16 * w)
                             : _mm512_setzero_ps();
  const float* a_rows[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) a_rows[r] = a + r * a_row;
  for (int64_t k = 0; k < depth; ++k) {
    __m512 bv[W];
#pragma GCC unroll 4
    for (int w = 0; w < W - 1; ++w) bv[w] = _mm512_loadu_ps(b + 16 * w);
    bv[W - 1] = _mm512_maskz_loadu_ps(tail, b + 16 * (W - 1));
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(*a_rows[r]);
      a_rows[r] += a_k;
#pragma GCC unroll 4
      for (int w = 0; w < W; ++w) acc[r][w] = _mm512_fmadd_ps(av, bv[w], acc[r][w]);
    }
    b += ldb;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w)
      _mm512_mask_storeu_ps(c + r * ldc + 16 * w, w == W - 1 ? tail : __mmask16(0xFFFF),
                            acc[r][w]);
}

using BlockFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*,
                         int64_t, bool, __mmask16);

template <int R, int... W>
constexpr std::array<BlockFn, kVectors> row_of_blocks(std::integer_sequence<int, W...>) {
  return {&block_f32<R, W + 1>...};
}

template <int... R>
constexpr std::array<std::array<BlockFn, kVectors>, kRows> block_table(
    std::integer_sequence<int, R...>) {
  return {row_of_blocks<R + 1>(std::make_integer_sequence<int, kVectors>{})...};
}

constexpr auto kBlocks = block_table(std::make_integer_sequence<int, kRows>{});

}  // namespace

template <>
void tile_gemm<float>(int64_t rows, int64_t cols, int64_t depth, const float* a, int64_t a_row,
                      int64_t a_k, const float* b, int64_t ldb, float* c, int64_t ldc,
                      bool accumulate) {
  constexpr int64_t panel = 16 * kVectors;
  for (int64_t c0 = 0; c0 < cols; c0 += panel) {
    const int64_t width = std::min(panel, cols - c0);
    const int64_t vectors = (width + 15) / 16;
    const int64_t last = width - 16 * (vectors - 1);  // 1..16 columns in the last vector
    const auto tail = static_cast<__mmask16>((1u << last) - 1u);
    for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
      const int64_t block_rows = std::min<int64_t>(kRows, rows - r0);
      kBlocks[block_rows - 1][vectors - 1](depth, a + r0 * a_row, a_row, a_k, b + c0, ldb,
                                           c + r0 * ldc + c0, ldc, accumulate, tail);
    }
  }
}
#endif

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

// The one matrix-multiply shape the CPU attention kernels use on tiles:
//   C[r*ldc + c] (= or +=) sum_k A[r*a_row + k*a_k] * B[k*ldb + c],  r < rows, c < cols.
// A is read through two strides, so the same routine multiplies by a tile or its transpose
// without packing; B rows are contiguous. For float it runs the active SIMD variant's
// register-blocked micro-kernels (kernels/cpu/simd_kernels.h: 6 rows x 64 columns on AVX-512,
// 6 x 16 on AVX2, masked column tails); for double a plain loop the compiler vectorises. It was measured against OpenBLAS sgemm on the same tiles (benchmarks/bench_attention).
#pragma once

#include <cstdint>

namespace attnscale::kernels::cpu {

template <typename T>
void tile_gemm(int64_t rows, int64_t cols, int64_t depth, const T* a, int64_t a_row, int64_t a_k,
               const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate);

// C[i*ldc + j] = sum_x A[i*n + x] * B[j*n + x]: rows of A against rows of B (A B^T), through
// tile_gemm on a packed copy of B^T. For the general path, where operands are not pre-packed.
template <typename T>
void rows_times_rows(const T* a, int64_t a_rows, const T* b, int64_t b_rows, int64_t n, T* c,
                     int64_t ldc);

}  // namespace attnscale::kernels::cpu

// Indexing, joining and selection kernels on raw pointers (CPU in kernels/cpu/indexing.cpp).
// Shapes are passed as a tensor viewed around one axis: [outer, axis_len, inner], row-major and
// contiguous unless strides are given. Indices are int64 and must have been validated with
// find_index_out_of_range: the kernels do not check them.
#pragma once

#include <cstdint>
#include <limits>

namespace attnscale::kernels {

// "No index is ignored" for find_index_out_of_range.
inline constexpr int64_t kNoIgnoredIndex = std::numeric_limits<int64_t>::min();

// Position of the first index[i] (i < n) outside [0, limit) and not equal to `ignored`, or -1.
int64_t find_index_out_of_range(int64_t n, const int64_t* index, int64_t limit,
                                int64_t ignored = kNoIgnoredIndex);

// out[o, i, j] = x[o, index[o, i, j], j]; x is [outer, x_len, inner], index and out [outer, index_len, inner].
template <typename T>
void gather(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index, T* out);

// out[o, index[o, i, j], j] += src[o, i, j]; out is [outer, out_len, inner], index and src [outer, index_len, inner].
template <typename T>
void scatter_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
                 const T* src);

// out[o, i, :] = x[o, index[i], :]; x is [outer, x_len, inner], index [index_len], out [outer, index_len, inner].
template <typename T>
void index_select(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index,
                  T* out);

// out[o, index[i], :] += src[o, i, :]; out is [outer, out_len, inner], index [index_len], src [outer, index_len, inner].
template <typename T>
void index_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
               const T* src);

// dst[r * dst_stride + i] = src[r * src_stride + i] for r < rows, i < row_len (concat writes each
// part into its slab of the output this way).
template <typename T>
void copy_rows(int64_t rows, int64_t row_len, const T* src, int64_t src_stride, T* dst, int64_t dst_stride);

// out (contiguous, `shape`) = cond != 0 ? a : b, each operand read through its strides (0 = broadcast).
template <typename T, typename C>
void where(int ndim, const int64_t* shape, const C* cond, const int64_t* cond_strides, const T* a,
           const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out);

}  // namespace attnscale::kernels

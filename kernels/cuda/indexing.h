// CUDA launchers of the indexing, joining and selection kernels (kernels/cuda/indexing.cu), parallel
// to kernels/indexing.h: the same [outer, axis_len, inner] views. Indices must have been validated
// (find_index_out_of_range); the kernels do not check them.
//
// The accumulating kernels (scatter_add, index_add: the backward of gather and of an embedding
// lookup) add with atomics: where several indices name one element the order of the additions,
// and so the last bits of a float sum, may differ from run to run (as PyTorch's on CUDA).
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// *first_bad (device memory) = position of the first index[i] outside [0, limit) and not equal to
// `ignored`, or -1: kernels::find_index_out_of_range with the answer left on the device.
void find_index_out_of_range(int64_t n, const int64_t* index, int64_t limit, int64_t ignored, int64_t* first_bad,
                             Stream stream);

template <typename T>
void gather(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index, T* out,
            Stream stream);

template <typename T>
void scatter_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
                 const T* src, Stream stream);

// The embedding lookup: out[o, i, :] = x[o, index[i], :].
template <typename T>
void index_select(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index,
                  T* out, Stream stream);

// The embedding backward: out[o, index[i], :] += src[o, i, :].
template <typename T>
void index_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
               const T* src, Stream stream);

// dst[r * dst_stride + i] = src[r * src_stride + i] for r < rows, i < row_len (concat writes each
// part into its slab of the output this way).
template <typename T>
void copy_rows(int64_t rows, int64_t row_len, const T* src, int64_t src_stride, T* dst, int64_t dst_stride,
               Stream stream);

// out (contiguous, `shape`) = cond != 0 ? a : b, each operand read through its strides (0 = broadcast);
// at most kMaxDims (kernels/cuda/elementwise.h) axes.
template <typename T, typename C>
void where(int ndim, const int64_t* shape, const C* cond, const int64_t* cond_strides, const T* a,
           const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

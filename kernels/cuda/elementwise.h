// CUDA launchers of the elementwise and copy kernels (kernels/cuda/elementwise.cu), parallel to
// kernels/elementwise.h: the same arguments on device pointers, plus the stream. Shapes and
// strides are host arrays of at most kMaxDims axes (passed to the kernel by value).
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"
#include "kernels/elementwise.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

inline constexpr int kMaxDims = 8;

using kernels::BinaryOp;
using kernels::UnaryOp;

// out[i] = value for i < n (Tensor::zeros / ones / full on the device).
template <typename T>
void fill(int64_t n, T value, T* out, Stream stream);

// out[i] = static_cast<To>(in[i]) for i < n (Tensor::to(dtype) on the device).
template <typename From, typename To>
void cast(int64_t n, const From* in, To* out, Stream stream);

template <typename T>
void unary(UnaryOp op, int64_t n, const T* in, T* out, Stream stream);

template <typename T>
void unary_backward(UnaryOp op, int64_t n, const T* in, const T* out, const T* grad_out, T* grad_in, Stream stream);

template <typename T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out, Stream stream);

template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* a, T s, T* out, Stream stream);

template <typename T>
void strided_copy(int ndim, const int64_t* shape, const T* src, const int64_t* src_strides, T* dst, Stream stream);

// Several source elements may land on one destination element (zero or overlapping strides): the
// kernel adds atomically, so the order of the additions is not fixed.
template <typename T>
void strided_accumulate(int ndim, const int64_t* shape, const T* src, T* dst, const int64_t* dst_strides,
                        Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

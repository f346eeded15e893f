// Elementwise and copy kernels on raw pointers (backend-neutral declarations; CPU in kernels/cpu/).
// Contiguous paths are flat loops the compiler vectorises; strided paths iterate the outer axes and
// run the innermost axis as a flat loop.
#pragma once

#include <cstdint>

namespace attnscale::kernels {

enum class UnaryOp { neg, exp, log, tanh, sigmoid, relu, gelu, silu, sqrt, rsqrt, abs, square };
enum class BinaryOp { add, sub, mul, div, pow, maximum, minimum, greater, less, equal };

// out[i] = op(in[i]) for i < n.
template <typename T>
void unary(UnaryOp op, int64_t n, const T* in, T* out);

// grad_in[i] = grad_out[i] * op'(in[i]); `out` is op(in), used where the derivative is cheaper from it.
template <typename T>
void unary_backward(UnaryOp op, int64_t n, const T* in, const T* out, const T* grad_out, T* grad_in);

// out (contiguous, `shape`) = op(a, b) where a and b are read through strides (0 = broadcast).
template <typename T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out);

// out[i] = op(a[i], s) for a scalar s (contiguous).
template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* a, T s, T* out);

// dst (contiguous, `shape`) = src read through src_strides.
template <typename T>
void strided_copy(int ndim, const int64_t* shape, const T* src, const int64_t* src_strides, T* dst);

// dst read through dst_strides += src (contiguous): used to scatter gradients into views.
template <typename T>
void strided_accumulate(int ndim, const int64_t* shape, const T* src, T* dst, const int64_t* dst_strides);

}  // namespace attnscale::kernels

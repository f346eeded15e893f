// Elementwise and copy kernels: one thread per element in grid-stride loops. The op is a kernel
// argument rather than a template parameter: it is the same for the whole grid, so the switch costs
// a uniform branch, and these kernels are bound by memory bandwidth anyway.
#include <type_traits>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/cuda/strided.cuh"
#include "kernels/elementwise_math.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

// The device's math for elementwise_math.h.
struct DeviceMath {
  template <typename T>
  __device__ static T exp(T x) { return math::exp(x); }
  template <typename T>
  __device__ static T log(T x) { return math::log(x); }
  template <typename T>
  __device__ static T tanh(T x) { return math::tanh(x); }
  template <typename T>
  __device__ static T sqrt(T x) { return math::sqrt(x); }
  template <typename T>
  __device__ static T abs(T x) { return math::abs(x); }
  template <typename T>
  __device__ static T pow(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(math::pow(static_cast<double>(a), static_cast<double>(b)));
    } else {
      return math::pow(a, b);
    }
  }
  template <typename T>
  __device__ static T normal_cdf(T x) { return T(0.5) * math::erfc(-x * T(0.70710678118654752440)); }
  template <typename T>
  __device__ static T normal_pdf(T x) { return T(0.39894228040143267794) * math::exp(T(-0.5) * x * x); }
};

template <typename T>
__global__ void fill_kernel(int64_t n, T value, T* out) {
  for (int64_t i = global_index(); i < n; i += global_stride()) out[i] = value;
}

template <typename From, typename To>
__global__ void cast_kernel(int64_t n, const From* in, To* out) {
  for (int64_t i = global_index(); i < n; i += global_stride()) out[i] = static_cast<To>(in[i]);
}

template <typename T>
__global__ void unary_kernel(UnaryOp op, int64_t n, const T* in, T* out) {
  for (int64_t i = global_index(); i < n; i += global_stride()) out[i] = kernels::apply_unary<DeviceMath>(op, in[i]);
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, int64_t n, const T* in, const T* out, const T* grad_out,
                                      T* grad_in) {
  for (int64_t i = global_index(); i < n; i += global_stride())
    grad_in[i] = grad_out[i] * kernels::unary_derivative<DeviceMath>(op, in[i], out[i]);
}

template <typename T>
__global__ void binary_kernel(BinaryOp op, StridedShape<2> shape, int64_t n, const T* a, const T* b, T* out) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t at[2];
    shape.offsets(i, at);
    out[i] = kernels::apply_binary<DeviceMath>(op, a[at[0]], b[at[1]]);
  }
}

template <typename T>
__global__ void binary_scalar_kernel(BinaryOp op, int64_t n, const T* a, T s, T* out) {
  for (int64_t i = global_index(); i < n; i += global_stride()) out[i] = kernels::apply_binary<DeviceMath>(op, a[i], s);
}

template <typename T>
__global__ void strided_copy_kernel(StridedShape<1> shape, int64_t n, const T* src, T* dst) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t at[1];
    shape.offsets(i, at);
    dst[i] = src[at[0]];
  }
}

template <typename T>
__global__ void strided_accumulate_kernel(StridedShape<1> shape, int64_t n, const T* src, T* dst) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t at[1];
    shape.offsets(i, at);
    atomicAdd(dst + at[0], src[i]);
  }
}

}  // namespace

template <typename T>
void fill(int64_t n, T value, T* out, Stream stream) {
  if (n > 0) launch(fill_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, n, value, out);
}

template <typename From, typename To>
void cast(int64_t n, const From* in, To* out, Stream stream) {
  if (n > 0) launch(cast_kernel<From, To>, blocks_for(n, kThreads), kThreads, 0, stream, n, in, out);
}

template <typename T>
void unary(UnaryOp op, int64_t n, const T* in, T* out, Stream stream) {
  if (n > 0) launch(unary_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, op, n, in, out);
}

template <typename T>
void unary_backward(UnaryOp op, int64_t n, const T* in, const T* out, const T* grad_out, T* grad_in, Stream stream) {
  if (n > 0)
    launch(unary_backward_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, op, n, in, out, grad_out, grad_in);
}

template <typename T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* a_strides, const T* b,
            const int64_t* b_strides, T* out, Stream stream) {
  int64_t n = 0;
  const StridedShape<2> s = strided_shape<2>("binary", ndim, shape, {a_strides, b_strides}, n);
  if (n > 0) launch(binary_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, op, s, n, a, b, out);
}

template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* a, T s, T* out, Stream stream) {
  if (n > 0) launch(binary_scalar_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, op, n, a, s, out);
}

template <typename T>
void strided_copy(int ndim, const int64_t* shape, const T* src, const int64_t* src_strides, T* dst, Stream stream) {
  int64_t n = 0;
  const StridedShape<1> s = strided_shape<1>("strided_copy", ndim, shape, {src_strides}, n);
  if (n > 0) launch(strided_copy_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, s, n, src, dst);
}

template <typename T>
void strided_accumulate(int ndim, const int64_t* shape, const T* src, T* dst, const int64_t* dst_strides,
                        Stream stream) {
  int64_t n = 0;
  const StridedShape<1> s = strided_shape<1>("strided_accumulate", ndim, shape, {dst_strides}, n);
  if (n > 0) launch(strided_accumulate_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream, s, n, src, dst);
}

#define INSTANTIATE_FLOAT(T)                                                                                  \
  template void fill<T>(int64_t, T, T*, Stream);                                                              \
  template void unary<T>(UnaryOp, int64_t, const T*, T*, Stream);                                             \
  template void unary_backward<T>(UnaryOp, int64_t, const T*, const T*, const T*, T*, Stream);                \
  template void binary<T>(BinaryOp, int, const int64_t*, const T*, const int64_t*, const T*, const int64_t*, T*, \
                          Stream);                                                                            \
  template void binary_scalar<T>(BinaryOp, int64_t, const T*, T, T*, Stream);                                 \
  template void strided_copy<T>(int, const int64_t*, const T*, const int64_t*, T*, Stream);                   \
  template void strided_accumulate<T>(int, const int64_t*, const T*, T*, const int64_t*, Stream);
INSTANTIATE_FLOAT(float)
INSTANTIATE_FLOAT(double)
#undef INSTANTIATE_FLOAT
template void binary<int64_t>(BinaryOp, int, const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                              const int64_t*, int64_t*, Stream);
template void strided_copy<int64_t>(int, const int64_t*, const int64_t*, const int64_t*, int64_t*, Stream);
template void fill<int64_t>(int64_t, int64_t, int64_t*, Stream);
#define INSTANTIATE_CAST(From, To) template void cast<From, To>(int64_t, const From*, To*, Stream);
#define INSTANTIATE_CASTS_FROM(From) \
  INSTANTIATE_CAST(From, float)      \
  INSTANTIATE_CAST(From, double)     \
  INSTANTIATE_CAST(From, int64_t)
INSTANTIATE_CASTS_FROM(float)
INSTANTIATE_CASTS_FROM(double)
INSTANTIATE_CASTS_FROM(int64_t)
#undef INSTANTIATE_CASTS_FROM
#undef INSTANTIATE_CAST

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

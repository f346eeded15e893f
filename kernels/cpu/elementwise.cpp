#include "kernels/elementwise.h"
#include "kernels/elementwise_math.h"

#include <algorithm>
#include <cmath>

#include "kernels/bf16.h"
#include "kernels/cpu/strided_rows.h"
#include "kernels/cpu/transpose_copy.h"
#include "kernels/cpu/vec_math.h"

namespace attnscale::kernels {
namespace {

// The CPU's math for elementwise_math.h: the vectorisable exp and normal CDF for float, libm otherwise.
template <typename T>
struct CpuMath {
  static T exp(T x) { return math_for<T>::exp(x); }
  static T log(T x) { return std::log(x); }
  static T tanh(T x) { return std::tanh(x); }
  static T sqrt(T x) { return std::sqrt(x); }
  static T abs(T x) { return std::abs(x); }
  static T pow(T a, T b) { return static_cast<T>(std::pow(a, b)); }
  static T normal_cdf(T x) { return math_for<T>::normal_cdf(x); }
  static T normal_pdf(T x) { return math_for<T>::normal_pdf(x); }
};

// The op as a compile-time constant so each inner loop vectorises.
template <typename T, BinaryOp Op>
void binary_rows(int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b, const int64_t* sb,
                 T* out) {
  const RowPlan<2> plan = plan_rows<2>(ndim, shape, {sa, sb});
  const int64_t ia = plan.inner_stride(0), ib = plan.inner_stride(1);
  for_each_row(plan, [&](const std::array<int64_t, 2>& at, int64_t oo, int64_t n) {
    const T* pa = a + at[0];
    const T* pb = b + at[1];
    T* po = out + oo;
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<CpuMath<T>>(Op, pa[i], pb[i]);
    } else if (ia == 1 && ib == 0) {
      const T s = pb[0];
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<CpuMath<T>>(Op, pa[i], s);
    } else if (ia == 0 && ib == 1) {
      const T s = pa[0];
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<CpuMath<T>>(Op, s, pb[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<CpuMath<T>>(Op, pa[i * ia], pb[i * ib]);
    }
  });
}

template <typename T, UnaryOp Op>
void unary_loop(int64_t n, const T* in, T* out) {
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = apply_unary<CpuMath<T>>(Op, in[i]);
}

template <typename T, UnaryOp Op>
void unary_backward_loop(int64_t n, const T* in, const T* out, const T* grad_out, T* grad_in) {
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * unary_derivative<CpuMath<T>>(Op, in[i], out[i]);
}

}  // namespace

template <typename T>
void unary(UnaryOp op, int64_t n, const T* in, T* out) {
  switch (op) {
#define CASE(name) \
  case UnaryOp::name: return unary_loop<T, UnaryOp::name>(n, in, out);
    CASE(neg) CASE(exp) CASE(log) CASE(tanh) CASE(sigmoid) CASE(relu) CASE(gelu) CASE(silu) CASE(sqrt)
    CASE(rsqrt) CASE(abs) CASE(square)
#undef CASE
  }
}

template <typename T>
void unary_backward(UnaryOp op, int64_t n, const T* in, const T* out, const T* grad_out, T* grad_in) {
  switch (op) {
#define CASE(name) \
  case UnaryOp::name: return unary_backward_loop<T, UnaryOp::name>(n, in, out, grad_out, grad_in);
    CASE(neg) CASE(exp) CASE(log) CASE(tanh) CASE(sigmoid) CASE(relu) CASE(gelu) CASE(silu) CASE(sqrt)
    CASE(rsqrt) CASE(abs) CASE(square)
#undef CASE
  }
}

template <typename T>
void binary(BinaryOp op, int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b,
            const int64_t* sb, T* out) {
  switch (op) {
#define CASE(name) \
  case BinaryOp::name: return binary_rows<T, BinaryOp::name>(ndim, shape, a, sa, b, sb, out);
    CASE(add) CASE(sub) CASE(mul) CASE(div) CASE(pow) CASE(maximum) CASE(minimum) CASE(greater) CASE(less)
    CASE(equal)
#undef CASE
  }
}

template <typename T>
void binary_scalar(BinaryOp op, int64_t n, const T* a, T s, T* out) {
  const int64_t shape = n, stride_a = 1, stride_s = 0;
  binary<T>(op, 1, &shape, a, &stride_a, &s, &stride_s, out);
}

template <typename T>
void strided_copy(int ndim, const int64_t* shape, const T* src, const int64_t* src_strides, T* dst) {
  const RowPlan<1> plan = plan_rows<1>(ndim, shape, {src_strides});
  const int64_t inner_stride = plan.inner_stride(0);
  const int nd = static_cast<int>(plan.shape.size());
  if (nd >= 2 && inner_stride != 1 && plan.strides[0][nd - 2] == 1) return transpose_copy(plan, src, dst);
  for_each_row(plan, [&](const std::array<int64_t, 1>& at, int64_t od, int64_t n) {
    const T* ps = src + at[0];
    T* pd = dst + od;
    if (inner_stride == 1)
      std::copy(ps, ps + n, pd);
    else
      for (int64_t i = 0; i < n; ++i) pd[i] = ps[i * inner_stride];
  });
}

template <typename T>
void strided_accumulate(int ndim, const int64_t* shape, const T* src, T* dst, const int64_t* dst_strides) {
  const RowPlan<1> plan = plan_rows<1>(ndim, shape, {dst_strides});
  const int64_t inner_stride = plan.inner_stride(0);
  // Serial: a zero or overlapping destination stride makes several source elements add into one.
  for_each_row(
      plan,
      [&](const std::array<int64_t, 1>& at, int64_t os, int64_t n) {
        const T* ps = src + os;
        T* pd = dst + at[0];
        for (int64_t i = 0; i < n; ++i) pd[i * inner_stride] += ps[i];
      },
      /*parallel=*/false);
}

#define INSTANTIATE_FLOAT(T)                                                                          \
  template void unary<T>(UnaryOp, int64_t, const T*, T*);                                             \
  template void unary_backward<T>(UnaryOp, int64_t, const T*, const T*, const T*, T*);                \
  template void binary<T>(BinaryOp, int, const int64_t*, const T*, const int64_t*, const T*,          \
                          const int64_t*, T*);                                                        \
  template void binary_scalar<T>(BinaryOp, int64_t, const T*, T, T*);                                 \
  template void strided_accumulate<T>(int, const int64_t*, const T*, T*, const int64_t*);
INSTANTIATE_FLOAT(float)
INSTANTIATE_FLOAT(double)
template void binary<int64_t>(BinaryOp, int, const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                              const int64_t*, int64_t*);
template void strided_copy<float>(int, const int64_t*, const float*, const int64_t*, float*);
template void strided_copy<double>(int, const int64_t*, const double*, const int64_t*, double*);
template void strided_copy<int64_t>(int, const int64_t*, const int64_t*, const int64_t*, int64_t*);
template void strided_copy<bf16>(int, const int64_t*, const bf16*, const int64_t*, bf16*);
template void strided_accumulate<int64_t>(int, const int64_t*, const int64_t*, int64_t*, const int64_t*);

}  // namespace attnscale::kernels

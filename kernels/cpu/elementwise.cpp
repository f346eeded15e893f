#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace attnscale::kernels {
namespace {

template <typename T>
inline T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-x));
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
    case UnaryOp::silu: return x / (T(1) + std::exp(-x));
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::rsqrt: return T(1) / std::sqrt(x);
    case UnaryOp::abs: return std::abs(x);
    case UnaryOp::square: return x * x;
  }
  return x;
}

template <typename T>
inline T unary_derivative(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
      return cdf + x * pdf;
    }
    case UnaryOp::silu: {
      const T s = T(1) / (T(1) + std::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::rsqrt: return T(-0.5) * y * y * y;
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::square: return T(2) * x;
  }
  return T(0);
}

template <typename T>
inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::pow: return static_cast<T>(std::pow(a, b));
    case BinaryOp::maximum: return std::max(a, b);
    case BinaryOp::minimum: return std::min(a, b);
    case BinaryOp::greater: return a > b ? T(1) : T(0);
    case BinaryOp::less: return a < b ? T(1) : T(0);
    case BinaryOp::equal: return a == b ? T(1) : T(0);
  }
  return a;
}

// Calls inner(offsets..., out_offset, inner_len) for every row of the innermost axis.
template <typename F>
void for_each_row(int ndim, const int64_t* shape, const int64_t* sa, const int64_t* sb, F&& inner) {
  if (ndim == 0) {
    inner(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1});
    return;
  }
  const int64_t inner_len = shape[ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  std::vector<int64_t> idx(ndim, 0);
  int64_t off_a = 0, off_b = 0;
  for (int64_t r = 0; r < rows; ++r) {
    inner(off_a, off_b, r * inner_len, inner_len);
    for (int d = ndim - 2; d >= 0; --d) {
      ++idx[d];
      off_a += sa[d];
      off_b += sb ? sb[d] : 0;
      if (idx[d] < shape[d]) break;
      off_a -= sa[d] * shape[d];
      off_b -= sb ? sb[d] * shape[d] : 0;
      idx[d] = 0;
    }
  }
}

// The op as a compile-time constant so each inner loop vectorises.
template <typename T, BinaryOp Op>
void binary_rows(int ndim, const int64_t* shape, const T* a, const int64_t* sa, const T* b, const int64_t* sb,
                 T* out) {
  const int64_t ia = ndim ? sa[ndim - 1] : 0, ib = ndim ? sb[ndim - 1] : 0;
  for_each_row(ndim, shape, sa, sb, [&](int64_t oa, int64_t ob, int64_t oo, int64_t n) {
    const T* pa = a + oa;
    const T* pb = b + ob;
    T* po = out + oo;
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(Op, pa[i], pb[i]);
    } else if (ia == 1 && ib == 0) {
      const T s = pb[0];
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(Op, pa[i], s);
    } else if (ia == 0 && ib == 1) {
      const T s = pa[0];
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(Op, s, pb[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = apply_binary<T>(Op, pa[i * ia], pb[i * ib]);
    }
  });
}

template <typename T, UnaryOp Op>
void unary_loop(int64_t n, const T* in, T* out) {
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = apply_unary<T>(Op, in[i]);
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
#pragma omp parallel for if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) grad_in[i] = grad_out[i] * unary_derivative<T>(op, in[i], out[i]);
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
  const int64_t inner_stride = ndim ? src_strides[ndim - 1] : 1;
  for_each_row(ndim, shape, src_strides, nullptr, [&](int64_t os, int64_t, int64_t od, int64_t n) {
    const T* ps = src + os;
    T* pd = dst + od;
    if (inner_stride == 1)
      std::copy(ps, ps + n, pd);
    else
      for (int64_t i = 0; i < n; ++i) pd[i] = ps[i * inner_stride];
  });
}

template <typename T>
void strided_accumulate(int ndim, const int64_t* shape, const T* src, T* dst, const int64_t* dst_strides) {
  const int64_t inner_stride = ndim ? dst_strides[ndim - 1] : 1;
  for_each_row(ndim, shape, dst_strides, nullptr, [&](int64_t od, int64_t, int64_t os, int64_t n) {
    const T* ps = src + os;
    T* pd = dst + od;
    for (int64_t i = 0; i < n; ++i) pd[i * inner_stride] += ps[i];
  });
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
template void strided_accumulate<int64_t>(int, const int64_t*, const int64_t*, int64_t*, const int64_t*);

}  // namespace attnscale::kernels

// The per-element math of the elementwise ops, written once for the CPU loops (kernels/cpu/
// elementwise.cpp) and the CUDA kernels (kernels/cuda/elementwise.cu). `Math` supplies the
// transcendental functions of the backend: exp, log, tanh, sqrt, abs, pow, normal_cdf, normal_pdf.
#pragma once

#include "kernels/elementwise.h"
#include "kernels/host_device.h"

namespace attnscale::kernels {

template <typename Math, typename T>
ATTNSCALE_HD inline T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return Math::exp(x);
    case UnaryOp::log: return Math::log(x);
    case UnaryOp::tanh: return Math::tanh(x);
    case UnaryOp::sigmoid: return T(1) / (T(1) + Math::exp(-x));
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu: return x * Math::normal_cdf(x);
    case UnaryOp::silu: return x / (T(1) + Math::exp(-x));
    case UnaryOp::sqrt: return Math::sqrt(x);
    case UnaryOp::rsqrt: return T(1) / Math::sqrt(x);
    case UnaryOp::abs: return Math::abs(x);
    case UnaryOp::square: return x * x;
  }
  return x;
}

// d op(x) / dx, given x and y = op(x) (some derivatives are cheaper from y).
template <typename Math, typename T>
ATTNSCALE_HD inline T unary_derivative(UnaryOp op, T x, T y) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return y;
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: return Math::normal_cdf(x) + x * Math::normal_pdf(x);
    case UnaryOp::silu: {
      const T s = T(1) / (T(1) + Math::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::rsqrt: return T(-0.5) * y * y * y;
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::square: return T(2) * x;
  }
  return T(0);
}

template <typename Math, typename T>
ATTNSCALE_HD inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::pow: return Math::pow(a, b);
    case BinaryOp::maximum: return a < b ? b : a;  // std::max
    case BinaryOp::minimum: return b < a ? b : a;  // std::min
    case BinaryOp::greater: return a > b ? T(1) : T(0);
    case BinaryOp::less: return a < b ? T(1) : T(0);
    case BinaryOp::equal: return a == b ? T(1) : T(0);
  }
  return a;
}

}  // namespace attnscale::kernels

// Branch-free float exp and the normal CDF, written so that GCC vectorises loops that call them
// (libm's expf/erff are opaque calls that stay scalar without -ffast-math, which made exp, gelu,
// softmax and cross-entropy run at 2-7% of memcpy speed). Only float uses them: double is the
// gradient-check type, where libm's accuracy matters and speed does not (see math_for<T> below).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace attnscale::kernels::vec {

// exp(x) with relative error below 2 ulp, including subnormal results, inf and NaN.
inline float exp(float x) {
  // exp(x) = 2^n exp(r) with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]; ln 2 is split
  // in two parts (Cody-Waite) so that n * ln2_hi is exact.
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kOverflow = 88.7228394f;  // above: inf
  constexpr float kRound = 12582912.0f;     // 1.5 * 2^23: adding it rounds to an integer
  const float xc = std::min(std::max(x, -104.0f), kOverflow);
  const float shifted = xc * kLog2e + kRound;
  const float n = shifted - kRound;
  const int32_t ni = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  // Taylor series of exp(r) to degree 7: truncation error < 6e-9 relative on the interval.
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n as two normal factors, since n in [-150, 128] can leave the normal exponent range.
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23), s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float result = p * s1 * s2;
  if (x != x) return x;  // NaN
  return x > kOverflow ? std::numeric_limits<float>::infinity() : result;
}

// erfc(z) for z >= 0, relative error ~1.1e-7 in exact arithmetic (Chebyshev fit, Numerical
// Recipes 6.2 "erfcc"), so the tails of the normal CDF keep their relative accuracy.
inline float erfc_nonnegative(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * vec::exp(p - z * z);
}

// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2.
inline float normal_cdf(float x) {
  const float half_tail = 0.5f * erfc_nonnegative(std::abs(x) * 0.70710678118654752f);
  return x >= 0.0f ? 1.0f - half_tail : half_tail;
}

// Standard normal density.
inline float normal_pdf(float x) { return 0.39894228040143268f * vec::exp(-0.5f * x * x); }

}  // namespace attnscale::kernels::vec

namespace attnscale::kernels {

// exp and the normal CDF/density for a kernel's element type: the vectorisable versions for float,
// libm for double.
template <typename T>
struct math_for {
  static T exp(T x) { return std::exp(x); }
  static T normal_cdf(T x) { return T(0.5) * std::erfc(-x * T(0.70710678118654752440)); }
  static T normal_pdf(T x) { return T(0.39894228040143267794) * std::exp(T(-0.5) * x * x); }
};
template <>
struct math_for<float> {
  static float exp(float x) { return vec::exp(x); }
  static float normal_cdf(float x) { return vec::normal_cdf(x); }
  static float normal_pdf(float x) { return vec::normal_pdf(x); }
};

}  // namespace attnscale::kernels

// bfloat16: the upper 16 bits of an IEEE float32 (sign, 8 exponent bits, 7 mantissa bits). The one
// place where float and double become bf16 (round to nearest, ties to even; denormals kept; every
// NaN becomes the quiet NaN 0x7FC0 with its sign) and bf16 becomes float (exact). Host and CUDA
// code call these same functions (ATTNSCALE_HD), so every backend and every ISA variant of the CPU
// conversion kernels (kernels/bf16_convert.h) rounds identically.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace attnscale {

struct bf16 {
  uint16_t bits = 0;
};
static_assert(sizeof(bf16) == 2);

namespace kernels {

ATTNSCALE_HD inline uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

ATTNSCALE_HD inline float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

ATTNSCALE_HD inline float bf16_to_float(bf16 h) { return float_from_bits(static_cast<uint32_t>(h.bits) << 16); }

// Rounds to nearest even by adding 0x7FFF plus the kept part's lowest bit: a tie rounds up exactly
// when that bit is odd. A carry out of the mantissa steps the exponent (up to infinity), as it must.
ATTNSCALE_HD inline bf16 bf16_from_float(float x) {
  const uint32_t u = float_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return bf16{static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7FC0u)};  // NaN
  const uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>(rounded >> 16)};
}

// A double goes to float by rounding to odd (truncate, then set the lowest bit if anything was
// dropped): float keeps 16 more mantissa bits than bf16, so the second rounding to bf16 is then the
// correctly rounded double -> bf16 (no double rounding).
ATTNSCALE_HD inline bf16 bf16_from_double(double x) {
  if (x != x) return bf16_from_float(static_cast<float>(x));
  float f = static_cast<float>(x);
  const double back = static_cast<double>(f);
  if (back != x) {
    uint32_t u = float_bits(f);
    if ((back > x) == (x > 0)) --u;  // rounded away from zero (or to infinity): step back toward it
    f = float_from_bits(u | 1u);
  }
  return bf16_from_float(f);
}

}  // namespace kernels
}  // namespace attnscale

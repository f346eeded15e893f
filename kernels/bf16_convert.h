// Array conversions between float32 and bfloat16 on the CPU, with the rounding of kernels/bf16.h
// (every variant gives the same bits). Two variants, chosen once per process like the SIMD kernels
// (kernels/isa.h): AVX-512 BF16 (VCVTNEPS2BF16) where the CPU has it and the avx512 kernels are
// active, a portable loop (vectorised for the build's target) otherwise.
#pragma once

#include <cstdint>

#include "kernels/bf16.h"

namespace attnscale::kernels {

// dst[i] = src[i] widened (exact).
void bf16_to_f32(int64_t n, const bf16* src, float* dst);
// dst[i] = src[i] rounded to nearest even.
void f32_to_bf16(int64_t n, const float* src, bf16* dst);

// "avx512_bf16" or "portable": the variant the two calls above run now.
const char* bf16_convert_variant();

}  // namespace attnscale::kernels

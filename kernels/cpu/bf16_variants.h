// The variants behind kernels/bf16_convert.h (bf16_convert.cpp chooses). bf16_avx512.cpp is
// compiled with the AVX-512 BF16 flags alone, so a portable build runs anywhere.
#pragma once

#include <cstdint>

#include "kernels/bf16.h"

namespace attnscale::kernels::cpu {

void bf16_to_f32_portable(int64_t n, const bf16* src, float* dst);
void f32_to_bf16_portable(int64_t n, const float* src, bf16* dst);
void bf16_to_f32_avx512(int64_t n, const bf16* src, float* dst);
void f32_to_bf16_avx512(int64_t n, const float* src, bf16* dst);

}  // namespace attnscale::kernels::cpu

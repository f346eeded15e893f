// bf16 conversions with AVX-512 BF16: CMake adds -mavx512bf16 (and F, BW, VL) to this file alone.
#include <immintrin.h>

#include "kernels/cpu/bf16_variants.h"

namespace attnscale::kernels::cpu {

void bf16_to_f32_avx512(int64_t n, const bf16* src, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    // The zero-masked forms avoid GCC 12's false "may be used uninitialized" on the unmasked ones.
    const __m512i widened = _mm512_maskz_cvtepu16_epi32(__mmask16(0xFFFF), h);
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_maskz_slli_epi32(__mmask16(0xFFFF), widened, 16)));
  }
  for (; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

// VCVTNEPS2BF16 rounds to nearest even like bf16_from_float, but reads denormal inputs as zero and
// keeps a NaN's payload: a block holding either (rare in training) takes the scalar rounding, so
// both variants give the same bits.
void f32_to_bf16_avx512(int64_t n, const float* src, bf16* dst) {
  const __m512i magnitude_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512i infinity = _mm512_set1_epi32(0x7F800000);
  const __m512i smallest_normal = _mm512_set1_epi32(0x00800000);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(src + i);
    const __m512i magnitude = _mm512_and_si512(_mm512_castps_si512(x), magnitude_mask);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, infinity);
    const __mmask16 denormal =
        _mm512_mask_cmplt_epu32_mask(_mm512_test_epi32_mask(magnitude, magnitude), magnitude, smallest_normal);
    if (nan | denormal) {
      for (int64_t j = i; j < i + 16; ++j) dst[j] = bf16_from_float(src[j]);
      continue;
    }
    const __m256bh h = _mm512_cvtneps_pbh(x);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), reinterpret_cast<const __m256i&>(h));
  }
  for (; i < n; ++i) dst[i] = bf16_from_float(src[i]);
}

}  // namespace attnscale::kernels::cpu

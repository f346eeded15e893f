// Vectorised exp for the attention kernels' softmax steps. exp(-inf) is exactly 0 (masked scores
// must vanish, not become 1e-38). float on AVX-512: Cody-Waite range reduction and a degree-6
// polynomial, relative error below 2e-7; otherwise std::exp.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace attnscale::kernels::cpu {

#if defined(__AVX512F__)
inline __m512 exp_f32x16(__m512 x) {
  // Below -87.3 the result is under FLT_MIN: return exactly 0 (this also covers -inf).
  const __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_GE_OQ);
  // The masked forms with an explicit source avoid GCC 12's false "may be used uninitialized"
  // on the unmasked intrinsics' _mm512_undefined_ps.
  x = _mm512_mask_min_ps(x, 0xFFFF, x, _mm512_set1_ps(88.7f));
  const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f));
  const __m512 n =
      _mm512_mask_roundscale_ps(t, 0xFFFF, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(live, p, n);
}
#endif

// x[i] = exp(x[i] - shift[i]); sum[i] += x[i], for i < n (one key row of a transposed score tile).
template <typename T>
inline void exp_shift_accumulate(T* x, const T* shift, T* sum, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
      const __m512 e = exp_f32x16(
          _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, shift + i)));
      _mm512_mask_storeu_ps(x + i, m, e);
      _mm512_mask_storeu_ps(sum + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, sum + i), e));
    }
  }
#endif
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - shift[i]);
    sum[i] += x[i];
  }
}

// x[i] = exp(x[i] * scale - shift), for i < n (one query row of a score tile).
template <typename T>
inline void exp_scale_shift(T* x, T scale, T shift, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const __m512 s = _mm512_set1_ps(scale), sh = _mm512_set1_ps(shift);
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
      _mm512_mask_storeu_ps(x + i, m,
                            exp_f32x16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + i), s, sh)));
    }
  }
#endif
  for (; i < n; ++i) x[i] = std::exp(x[i] * scale - shift);
}

// y[i] = exp(x[i]) for i < n.
template <typename T>
inline void exp_array(const T* x, T* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
      _mm512_mask_storeu_ps(y + i, m, exp_f32x16(_mm512_maskz_loadu_ps(m, x + i)));
    }
  }
#endif
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}

}  // namespace attnscale::kernels::cpu

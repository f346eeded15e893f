// The SIMD kernels for AVX2 and FMA: CMake removes AVX-512 from this file's flags, so a native
// build on an AVX-512 machine still has the AVX2 variant to run and compare (kernels/isa.h).
#include <immintrin.h>

#include "kernels/cpu/simd_kernels_impl.h"

namespace attnscale::kernels::cpu {
namespace {

struct Avx2 {
  using Reg = __m256;
  using Mask = __m256i;  // all ones in the lanes to touch (maskload / maskstore)
  static constexpr int kWidth = 8;
  static constexpr int kGemmVectors = 2;  // 6 x 16 register blocks: 12 accumulators of 16 registers

  static Mask all() { return _mm256_set1_epi32(-1); }
  static Mask tail(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n, kWidth))),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Reg v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg fmsub(Reg a, Reg b, Reg c) { return _mm256_fmsub_ps(a, b, c); }
  static Reg fnmadd(Reg a, Reg b, Reg c) { return _mm256_fnmadd_ps(a, b, c); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }  // b when a is NaN, as the AVX-512 form
  static Reg round(Reg x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg at_least(Reg x, float bound) { return _mm256_cmp_ps(x, set1(bound), _CMP_GE_OQ); }
  // p * 2^n in the lanes `live` holds, 0 in the others. For n in [-126, 128] as two exact
  // power-of-two products (2^n alone overflows the exponent field at 128 and is no normal float
  // at -127), rounded once like AVX-512's scalef.
  static Reg scale_live(Reg live, Reg p, Reg n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i half = _mm256_srai_epi32(ni, 1);
    const auto pow2 = [](__m256i e) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23)); };
    return _mm256_and_ps(live, _mm256_mul_ps(_mm256_mul_ps(p, pow2(half)), pow2(_mm256_sub_epi32(ni, half))));
  }
};

}  // namespace

constinit const SimdKernels kAvx2Kernels = simd_kernels_for<Avx2>(Isa::avx2);

}  // namespace attnscale::kernels::cpu

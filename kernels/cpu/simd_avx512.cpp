// The SIMD kernels for AVX-512 (F, BW, CD, DQ, VL): CMake adds those flags to this file alone, so
// the rest of a portable build runs on CPUs without them (kernels/isa.h).
#include <immintrin.h>

#include "kernels/cpu/simd_kernels_impl.h"

namespace attnscale::kernels::cpu {
namespace {

struct Avx512 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static constexpr int kGemmVectors = 4;  // 6 x 64 register blocks: 24 accumulators of 32 registers

  static Mask all() { return Mask(0xFFFF); }
  static Mask tail(int64_t n) { return n >= kWidth ? all() : Mask((1u << n) - 1u); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Reg v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg fmsub(Reg a, Reg b, Reg c) { return _mm512_fmsub_ps(a, b, c); }
  static Reg fnmadd(Reg a, Reg b, Reg c) { return _mm512_fnmadd_ps(a, b, c); }
  // The masked forms with an explicit source avoid GCC 12's false "may be used uninitialized" on
  // the unmasked intrinsics' _mm512_undefined_ps.
  static Reg min(Reg a, Reg b) { return _mm512_mask_min_ps(a, all(), a, b); }
  static Reg round(Reg x) { return _mm512_mask_roundscale_ps(x, all(), x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Mask at_least(Reg x, float bound) { return _mm512_cmp_ps_mask(x, set1(bound), _CMP_GE_OQ); }
  // p * 2^n in the lanes `live` holds, 0 in the others.
  static Reg scale_live(Mask live, Reg p, Reg n) { return _mm512_maskz_scalef_ps(live, p, n); }
};

}  // namespace

constinit const SimdKernels kAvx512Kernels = simd_kernels_for<Avx512>(Isa::avx512);

}  // namespace attnscale::kernels::cpu

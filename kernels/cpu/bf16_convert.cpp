#include "kernels/bf16_convert.h"

#include <algorithm>

#include "kernels/cpu/bf16_variants.h"
#include "kernels/isa.h"

namespace attnscale::kernels {
namespace cpu {

void bf16_to_f32_portable(int64_t n, const bf16* src, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

void f32_to_bf16_portable(int64_t n, const float* src, bf16* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_from_float(src[i]);
}

}  // namespace cpu
namespace {

// The AVX-512 BF16 variant runs when the avx512 kernels are active (ATTNSCALE_ISA=avx2 turns it off
// with them) and the CPU has the BF16 extension; asked at every call, as active_isa() is cheap.
bool use_avx512_bf16() {
  static const bool has_bf16 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has_bf16 && active_isa() == Isa::avx512;
}

// Large arrays in parallel chunks (each element is independent: any split gives the same bits).
template <typename From, typename To>
void convert(int64_t n, const From* src, To* dst, void (*kernel)(int64_t, const From*, To*)) {
  constexpr int64_t kChunk = int64_t{1} << 16;
  if (n <= kChunk) return kernel(n, src, dst);
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < n; start += kChunk)
    kernel(std::min(kChunk, n - start), src + start, dst + start);
}

}  // namespace

void bf16_to_f32(int64_t n, const bf16* src, float* dst) {
  convert(n, src, dst, use_avx512_bf16() ? cpu::bf16_to_f32_avx512 : cpu::bf16_to_f32_portable);
}

void f32_to_bf16(int64_t n, const float* src, bf16* dst) {
  convert(n, src, dst, use_avx512_bf16() ? cpu::f32_to_bf16_avx512 : cpu::f32_to_bf16_portable);
}

const char* bf16_convert_variant() { return use_avx512_bf16() ? "avx512_bf16" : "portable"; }

}  // namespace attnscale::kernels

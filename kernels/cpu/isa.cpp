#include "kernels/isa.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.h"
#include "kernels/cpu/simd_kernels.h"

namespace attnscale::kernels {
namespace {

constexpr const char* kIsaVariable = "ATTNSCALE_ISA";

const cpu::SimdKernels& kernels_for(Isa isa) { return isa == Isa::avx512 ? cpu::kAvx512Kernels : cpu::kAvx2Kernels; }

// What a UsageError says when `isa` cannot run here; `how` names who asked for it.
void require_support(Isa isa, const std::string& how) {
  if (!cpu_supports(isa))
    throw UsageError(std::string("[isa] ") + how + " asks for the " + isa_name(isa) +
                     " kernels, but this CPU (or its OS) does not support " + isa_name(isa));
}

#if defined(ATTNSCALE_PORTABLE_BASELINE)
// A portable build compiles everything outside the SIMD kernels for x86-64-v3 (AVX2, FMA, BMI2).
// On an older CPU it would die with SIGILL somewhere in the first tensor op; say why instead. This
// file is compiled for plain x86-64, and the check runs before any other constructor.
[[gnu::constructor(101)]] void check_baseline() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v3")) return;
  constexpr const char message[] =
      "[isa] this attnscale build needs an x86-64-v3 CPU (AVX2, FMA, BMI2: Intel Haswell, AMD Zen or newer)\n";
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message, sizeof(message) - 1);
  _exit(1);
}
#endif

}  // namespace

const char* isa_name(Isa isa) { return isa == Isa::avx512 ? "avx512" : "avx2"; }

bool cpu_supports(Isa isa) {
  __builtin_cpu_init();
  // The variants' compile flags: avx2 adds AVX2 and FMA, avx512 also AVX-512 F, BW, CD, DQ and VL.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::avx2) return avx2;
  return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}

Isa active_isa() { return cpu::simd_kernels().isa; }

void set_active_isa(Isa isa) {
  require_support(isa, "set_active_isa");
  cpu::detail::active_kernels.store(&kernels_for(isa), std::memory_order_relaxed);
}

namespace cpu::detail {

std::atomic<const SimdKernels*> active_kernels{nullptr};

const SimdKernels& choose_kernels() {
  Isa isa = cpu_supports(Isa::avx512) ? Isa::avx512 : Isa::avx2;
  if (const char* requested = std::getenv(kIsaVariable); requested && *requested) {
    if (std::strcmp(requested, "avx2") == 0) isa = Isa::avx2;
    else if (std::strcmp(requested, "avx512") == 0) isa = Isa::avx512;
    else
      throw UsageError(std::string("[isa] ") + kIsaVariable + "=" + requested + ": expected avx2 or avx512");
    require_support(isa, std::string(kIsaVariable) + "=" + requested);
  }
  // Every thread that races here picks the same table.
  active_kernels.store(&kernels_for(isa), std::memory_order_relaxed);
  return kernels_for(isa);
}

}  // namespace cpu::detail
}  // namespace attnscale::kernels

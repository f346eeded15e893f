// Which x86 vector instruction set the CPU kernels' SIMD code (kernels/cpu/simd_kernels.h: the
// tile GEMM, the vectorised exp, the optimizer updates) runs with. Both variants are compiled into
// every build; the process picks one once, on the first kernel call:
//   ATTNSCALE_ISA=avx2|avx512 in the environment, if set (an unknown name, or avx512 on a CPU
//   without it, is a UsageError naming the variable), else the widest this CPU and OS support.
// Everything outside those kernels is compiled for the build's target: -march=native by default,
// x86-64-v3 (AVX2, FMA) with -DATTNSCALE_NATIVE=OFF (README "Build options").
#pragma once

namespace attnscale::kernels {

enum class Isa { avx2, avx512 };

const char* isa_name(Isa isa);

// This CPU and its OS (saved vector state) can run `isa`'s kernels.
bool cpu_supports(Isa isa);

// The variant the kernels run now.
Isa active_isa();

// Switches every later kernel call to `isa` (tests compare the variants in one process). Throws
// UsageError when this CPU cannot run it. Not to be called while kernels run on other threads.
void set_active_isa(Isa isa);

}  // namespace attnscale::kernels

// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so the random words for counter c depend only on (key, c). Header-only
// and free of state so every kernel (CPU and CUDA: philox4x32 and philox_block are __host__
// __device__) and framework/core/tensor/random.h share it.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/host_device.h"

namespace attnscale::kernels {

ATTNSCALE_HD inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

// The four words for a 64-bit seed and a 64-bit counter (the convention of framework Generator).
ATTNSCALE_HD inline std::array<uint32_t, 4> philox_block(uint64_t seed, uint64_t counter) {
  return philox4x32({static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0, 0},
                    {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

#if !defined(__CUDACC__)  // the CPU's lane-parallel form (nvcc rejects its GCC pragma)
// philox_block for L consecutive counters, first_counter + l in lane l, with word q of lane l left in
// words[q][l]. The rounds run lane by lane over plain arrays, which the compiler vectorises.
template <int L>
inline void philox_blocks(uint64_t seed, uint64_t first_counter, uint32_t (&words)[4][L]) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  // 32-bit words held in 64-bit lanes: the products are then the compiler's widening multiply of
  // the low halves (one vpmuludq on x86) instead of a full 64-bit multiply.
  constexpr uint64_t kLow = 0xFFFFFFFF;
  uint64_t c0[L], c1[L], c2[L], c3[L];
  for (int l = 0; l < L; ++l) {
    const uint64_t counter = first_counter + static_cast<uint64_t>(l);
    c0[l] = counter & kLow, c1[l] = counter >> 32, c2[l] = 0, c3[l] = 0;
  }
  const uint64_t k0_start = seed & kLow, k1_start = seed >> 32;
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    const uint64_t k0 = (k0_start + round * uint64_t{kWeyl0}) & kLow, k1 = (k1_start + round * uint64_t{kWeyl1}) & kLow;
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const uint64_t p0 = uint64_t{kMul0} * (c0[l] & kLow);
      const uint64_t p1 = uint64_t{kMul1} * (c2[l] & kLow);
      const uint64_t n0 = (p1 >> 32) ^ c1[l] ^ k0;
      const uint64_t n2 = (p0 >> 32) ^ c3[l] ^ k1;
      c1[l] = p1 & kLow, c3[l] = p0 & kLow, c0[l] = n0, c2[l] = n2;
    }
  }
  for (int l = 0; l < L; ++l) {
    words[0][l] = static_cast<uint32_t>(c0[l]), words[1][l] = static_cast<uint32_t>(c1[l]);
    words[2][l] = static_cast<uint32_t>(c2[l]), words[3][l] = static_cast<uint32_t>(c3[l]);
  }
}
#endif

}  // namespace attnscale::kernels

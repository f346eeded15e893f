#include "kernels/dropout.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/strided_rows.h"
#include "kernels/philox.h"

namespace attnscale::kernels {

template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale) {
  // One group (kDropoutGroup elements) per step, its Philox blocks generated lane-parallel. Every
  // group reads only its own counters, so any split among threads gives the same mask.
  constexpr int kLanes = kDropoutLanes;
  constexpr int64_t kGroup = kDropoutGroup;
  const int64_t groups = (n + kGroup - 1) / kGroup;
  using Flag = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
#pragma omp parallel for if (n >= kParallelElements) schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    uint32_t words[4][kLanes];
    philox_blocks<kLanes>(seed, dropout_counter(first_counter, g, 0), words);
    // Element e of the group uses word e / 16 of lane e % 16: contiguous in `words`, so this loop
    // vectorises (interleaving lanes would need scatters). The flags have T's width so that the
    // select below vectorises too.
    Flag keep[kGroup];
    for (int q = 0; q < 4; ++q)
      for (int l = 0; l < kLanes; ++l) keep[q * kLanes + l] = words[q][l] >= drop_below;
    const int64_t base = g * kGroup, count = std::min(kGroup, n - base);
    const T* src = in + base;
    T* dst = out + base;
    // The Philox rounds between memory accesses starve the hardware prefetcher (17 ms -> 7 ms per
    // 8M floats with this, CPU time on one core), so fetch a few groups ahead by hand.
    // Addresses as integers: the last groups prefetch past the end, which is harmless for a
    // prefetch but not a valid pointer.
    constexpr uintptr_t kAheadBytes = 8 * kGroup * sizeof(T);
    const uintptr_t src_at = reinterpret_cast<uintptr_t>(src), dst_at = reinterpret_cast<uintptr_t>(dst);
    for (uintptr_t byte = 0; byte < kGroup * sizeof(T); byte += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(src_at + kAheadBytes + byte), 0);
      __builtin_prefetch(reinterpret_cast<const void*>(dst_at + kAheadBytes + byte), 1);
    }
    if (count == kGroup) {
#pragma omp simd
      for (int64_t e = 0; e < kGroup; ++e) {
        const T scaled = src[e] * scale;
        dst[e] = keep[e] ? scaled : T(0);
      }
    } else {
      for (int64_t e = 0; e < count; ++e) dst[e] = keep[e] ? src[e] * scale : T(0);
    }
  }
}

template void dropout<float>(int64_t, const float*, float*, uint64_t, uint64_t, uint64_t, float);
template void dropout<double>(int64_t, const double*, double*, uint64_t, uint64_t, uint64_t, double);

}  // namespace attnscale::kernels

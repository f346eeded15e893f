#include "kernels/dropout.h"

#include <algorithm>

#include "kernels/cpu/strided_rows.h"
#include "kernels/philox.h"

namespace attnscale::kernels {

template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale) {
  // Sixteen Philox blocks (64 elements) per step, generated lane-parallel. Every block reads only
  // its own counter, so any split among threads gives the same mask.
  constexpr int kLanes = 16;
  constexpr int64_t kGroup = 4 * kLanes;
  const int64_t groups = (n + kGroup - 1) / kGroup;
#pragma omp parallel for if (n >= kParallelElements) schedule(static)
  for (int64_t g = 0; g < groups; ++g) {
    uint32_t words[4][kLanes];
    philox_blocks<kLanes>(seed, first_counter + static_cast<uint64_t>(g * kLanes), words);
    const int64_t base = g * kGroup, count = std::min(kGroup, n - base);
    for (int64_t e = 0; e < count; ++e)
      out[base + e] = words[e % 4][e / 4] >= drop_below ? in[base + e] * scale : T(0);
  }
}

template void dropout<float>(int64_t, const float*, float*, uint64_t, uint64_t, uint64_t, float);
template void dropout<double>(int64_t, const double*, double*, uint64_t, uint64_t, uint64_t, double);

}  // namespace attnscale::kernels

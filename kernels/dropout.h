// Inverted dropout on raw pointers (CPU in kernels/cpu/dropout.cpp). Elements go in groups of 64,
// each group using 16 Philox blocks (kernels/philox.h): element i, with g = i / 64 and e = i % 64,
// is decided by word e / 16 of the block for counter first_counter + 16 g + e % 16 under `seed`.
// So the mask depends only on (seed, counter, i): never on the thread count, and the backward pass
// regenerates it instead of storing it. The CUDA kernel (kernels/cuda/dropout.cu) draws the same
// words through dropout_counter, so both devices give identical masks.
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace attnscale::kernels {

inline constexpr int kDropoutLanes = 16;                  // Philox blocks per group
inline constexpr int64_t kDropoutGroup = 4 * kDropoutLanes;  // elements per group

// The Philox counter of lane `lane` (< kDropoutLanes) of group `group`: its block's word q decides
// element group * kDropoutGroup + q * kDropoutLanes + lane.
ATTNSCALE_HD constexpr uint64_t dropout_counter(uint64_t first_counter, int64_t group, int lane) {
  return first_counter + static_cast<uint64_t>(group) * kDropoutLanes + static_cast<uint64_t>(lane);
}

// Counters a dropout of n elements uses (whole groups).
constexpr uint64_t dropout_counters(int64_t n) {
  return static_cast<uint64_t>((n + kDropoutGroup - 1) / kDropoutGroup) * kDropoutLanes;
}

// out[i] = in[i] * scale where the random 32-bit word for i is >= drop_below, else 0. drop_below
// is p * 2^32 for drop probability p, so P(drop) = drop_below / 2^32 (2^32 drops everything).
template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale);

}  // namespace attnscale::kernels

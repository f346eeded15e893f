// Inverted dropout on raw pointers (CPU in kernels/cpu/dropout.cpp). Elements go in groups of 64,
// each group using 16 Philox blocks (kernels/philox.h): element i, with g = i / 64 and e = i % 64,
// is decided by word e / 16 of the block for counter first_counter + 16 g + e % 16 under `seed`.
// So the mask depends only on (seed, counter, i): never on the thread count, and the backward pass
// regenerates it instead of storing it.
#pragma once

#include <cstdint>

namespace attnscale::kernels {

inline constexpr int kDropoutLanes = 16;                  // Philox blocks per group
inline constexpr int64_t kDropoutGroup = 4 * kDropoutLanes;  // elements per group

// Counters a dropout of n elements uses (whole groups).
constexpr uint64_t dropout_counters(int64_t n) {
  return static_cast<uint64_t>((n + kDropoutGroup - 1) / kDropoutGroup) * kDropoutLanes;
}

// out[i] = in[i] * scale where the random 32-bit word for i is >= drop_below, else 0. drop_below
// is p * 2^32 for drop probability p, so P(drop) = drop_below / 2^32 (2^32 drops everything).
template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale);

}  // namespace attnscale::kernels

// Inverted dropout on raw pointers (CPU in kernels/cpu/dropout.cpp). Whether element i is kept is
// decided by Philox word i % 4 of counter first_counter + i / 4 under `seed` (kernels/philox.h), so
// the mask depends only on (seed, counter, i): never on the thread count, and the backward pass
// regenerates it instead of storing it.
#pragma once

#include <cstdint>

namespace attnscale::kernels {

// Counters a dropout of n elements uses (four elements per Philox block).
constexpr uint64_t dropout_counters(int64_t n) { return (static_cast<uint64_t>(n) + 3) / 4; }

// out[i] = in[i] * scale where the random 32-bit word for i is >= drop_below, else 0. drop_below
// is p * 2^32 for drop probability p, so P(drop) = drop_below / 2^32 (2^32 drops everything).
template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale);

}  // namespace attnscale::kernels

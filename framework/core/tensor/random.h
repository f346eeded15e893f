// Counter-based random numbers (Philox 4x32-10, Salmon et al. SC'11). Element i of a draw depends
// only on (seed, offset + i), never on the thread that computes it, so results are identical for
// any thread count and a generator's state is two integers that a checkpoint can store.
#pragma once

#include <array>
#include <cstdint>

namespace attnscale {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }

  // Reserves n counters and returns the first: draws of n elements use counters [first, first+n).
  uint64_t reserve(uint64_t n) {
    const uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  // Uniform in [0, 1) for counter c (24 random bits, exact in float).
  static float uniform(uint64_t seed, uint64_t counter);
  // Standard normal for counter c (Box-Muller on two 32-bit words).
  static double normal(uint64_t seed, uint64_t counter);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace attnscale

#include "framework/core/tensor/random.h"

#include <cmath>
#include <numbers>

#include "kernels/philox.h"

namespace attnscale {

// One Philox implementation for the whole code base: the kernels' header-only one.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  return kernels::philox4x32(c, k);
}

float Generator::uniform(uint64_t seed, uint64_t counter) {
  return static_cast<float>(kernels::philox_block(seed, counter)[0] >> 8) * (1.0f / 16777216.0f);
}

double Generator::normal(uint64_t seed, uint64_t counter) {
  const auto r = kernels::philox_block(seed, counter);
  const uint64_t bits = (static_cast<uint64_t>(r[0]) << 32 | r[1]) >> 11;  // 53 bits
  const double u1 = (static_cast<double>(bits) + 1.0) * 0x1.0p-53;         // (0, 1]
  const double u2 = static_cast<double>(r[2] >> 8) * 0x1.0p-24;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace attnscale

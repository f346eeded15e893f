// Block-sparse patterns and their generators. Host code shared by every backend.
#include <algorithm>
#include <cstdlib>

#include "base/error.h"
#include "kernels/mask.h"

namespace attnscale::kernels {

BlockPattern::BlockPattern(int64_t block_size, int64_t rows, int64_t cols,
                           std::vector<uint8_t> allowed, int64_t q_origin, int64_t k_origin)
    : block_size_(block_size), rows_(rows), cols_(cols), q_origin_(q_origin),
      k_origin_(k_origin), allowed_(std::move(allowed)) {
  ATTNSCALE_CHECK(block_size >= 1, "mask", "block size must be >= 1, got {}", block_size);
  ATTNSCALE_CHECK(rows >= 0 && cols >= 0, "mask", "block matrix {}x{} has a negative side", rows,
                  cols);
  ATTNSCALE_CHECK(static_cast<int64_t>(allowed_.size()) == rows * cols, "mask",
                  "block matrix {}x{} needs {} entries, got {}", rows, cols, rows * cols,
                  allowed_.size());
  const int64_t w = cols + 1;
  prefix_.assign(static_cast<size_t>((rows + 1) * w), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      prefix_[(r + 1) * w + c + 1] = prefix_[r * w + c + 1] + prefix_[(r + 1) * w + c] -
                                     prefix_[r * w + c] + (allowed_[r * cols + c] != 0 ? 1 : 0);
}

int64_t BlockPattern::count_allowed(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
  r0 = std::max<int64_t>(r0, 0);
  c0 = std::max<int64_t>(c0, 0);
  r1 = std::min(r1, rows_ - 1);
  c1 = std::min(c1, cols_ - 1);
  if (r0 > r1 || c0 > c1) return 0;
  const int64_t w = cols_ + 1;
  return prefix_[(r1 + 1) * w + c1 + 1] - prefix_[r0 * w + c1 + 1] - prefix_[(r1 + 1) * w + c0] +
         prefix_[r0 * w + c0];
}

namespace {

template <typename Rule>
BlockPattern generate(int64_t block_size, int64_t blocks, Rule rule) {
  ATTNSCALE_CHECK(blocks >= 0, "mask", "block count must be >= 0, got {}", blocks);
  std::vector<uint8_t> allowed(static_cast<size_t>(blocks * blocks), 0);
  for (int64_t r = 0; r < blocks; ++r)
    for (int64_t c = 0; c < blocks; ++c) allowed[r * blocks + c] = rule(r, c) ? 1 : 0;
  return BlockPattern(block_size, blocks, blocks, std::move(allowed));
}

// splitmix64 (Steele et al. 2014): a fixed formula, so patterns match across platforms.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

BlockPattern BlockPattern::strided(int64_t block_size, int64_t blocks, int64_t stride,
                                   bool causal) {
  ATTNSCALE_CHECK(stride >= 1, "mask", "strided pattern: stride must be >= 1, got {}", stride);
  return generate(block_size, blocks, [&](int64_t r, int64_t c) {
    if (causal && c > r) return false;
    const int64_t d = std::llabs(r - c);
    return d < stride || d % stride == 0;
  });
}

BlockPattern BlockPattern::fixed(int64_t block_size, int64_t blocks, int64_t stride,
                                 int64_t summary, bool causal) {
  ATTNSCALE_CHECK(stride >= 1 && summary >= 0 && summary <= stride, "mask",
                  "fixed pattern: need stride >= 1 and 0 <= summary <= stride, got {} and {}",
                  stride, summary);
  return generate(block_size, blocks, [&](int64_t r, int64_t c) {
    if (causal && c > r) return false;
    return r / stride == c / stride || c % stride >= stride - summary;
  });
}

BlockPattern BlockPattern::longformer(int64_t block_size, int64_t blocks, int64_t window,
                                      std::span<const int64_t> global_blocks) {
  ATTNSCALE_CHECK(window >= 0, "mask", "longformer pattern: window must be >= 0, got {}", window);
  std::vector<uint8_t> global(static_cast<size_t>(std::max<int64_t>(blocks, 0)), 0);
  for (const int64_t g : global_blocks) {
    ATTNSCALE_CHECK(g >= 0 && g < blocks, "mask", "longformer pattern: global block {} outside [0, {})",
                    g, blocks);
    global[g] = 1;
  }
  return generate(block_size, blocks, [&](int64_t r, int64_t c) {
    return std::llabs(r - c) <= window || global[r] != 0 || global[c] != 0;
  });
}

BlockPattern BlockPattern::bigbird(int64_t block_size, int64_t blocks, int64_t window,
                                   int64_t global, int64_t random, uint64_t seed) {
  ATTNSCALE_CHECK(window >= 0 && global >= 0 && random >= 0, "mask",
                  "bigbird pattern: window, global and random must be >= 0");
  BlockPattern p = generate(block_size, blocks, [&](int64_t r, int64_t c) {
    return std::llabs(r - c) <= window || r < global || c < global;
  });
  uint64_t state = seed;
  for (int64_t r = 0; r < blocks; ++r)
    for (int64_t k = 0; k < random; ++k)
      p.allowed_[r * blocks + static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(blocks))] = 1;
  return BlockPattern(block_size, blocks, blocks, std::move(p.allowed_));
}

}  // namespace attnscale::kernels

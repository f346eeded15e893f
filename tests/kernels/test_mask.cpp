// Masks: generators against hand-written patterns, tile classification never wrong (checked by
// brute force over random masks, positions and tiles) and exact where it should be, and
// needed_key_blocks against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "base/error.h"
#include "kernels/mask.h"

namespace attnscale::test {
namespace {

using kernels::BlockPattern;
using kernels::Mask;
using kernels::MaskView;
using kernels::Positions;
using kernels::TileKind;

std::vector<uint8_t> bits(const BlockPattern& p) {
  return std::vector<uint8_t>(p.allowed().begin(), p.allowed().end());
}

TEST(BlockPattern, StridedCausal) {
  // 5 blocks, stride 2: previous-2 local band plus every second block before.
  const auto p = BlockPattern::strided(4, 5, 2, true);
  EXPECT_EQ(bits(p), (std::vector<uint8_t>{1, 0, 0, 0, 0,  //
                                           1, 1, 0, 0, 0,  //
                                           1, 1, 1, 0, 0,  //
                                           0, 1, 1, 1, 0,  //
                                           1, 0, 1, 1, 1}));
}

TEST(BlockPattern, FixedWithSummaryColumns) {
  // 4 blocks, chunks of 2, the last block of each chunk is a summary column.
  const auto p = BlockPattern::fixed(4, 4, 2, 1, false);
  EXPECT_EQ(bits(p), (std::vector<uint8_t>{1, 1, 0, 1,  //
                                           1, 1, 0, 1,  //
                                           0, 1, 1, 1,  //
                                           0, 1, 1, 1}));
}

TEST(BlockPattern, LongformerGlobalRowsAndColumns) {
  const std::vector<int64_t> global = {3};
  const auto p = BlockPattern::longformer(2, 5, 1, global);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 5; ++c)
      EXPECT_EQ(p.block_allowed(r, c), std::llabs(r - c) <= 1 || r == 3 || c == 3) << r << "," << c;
}

TEST(BlockPattern, BigBirdDeterministicPerSeed) {
  const auto a = BlockPattern::bigbird(8, 16, 1, 1, 2, 5);
  const auto b = BlockPattern::bigbird(8, 16, 1, 1, 2, 5);
  const auto c = BlockPattern::bigbird(8, 16, 1, 1, 2, 6);
  EXPECT_EQ(bits(a), bits(b));
  EXPECT_NE(bits(a), bits(c));
  for (int64_t r = 0; r < 16; ++r) {
    int64_t extra = 0;
    for (int64_t col = 0; col < 16; ++col) {
      const bool structural = std::llabs(r - col) <= 1 || r < 1 || col < 1;
      if (structural) EXPECT_TRUE(a.block_allowed(r, col));
      else extra += a.block_allowed(r, col) ? 1 : 0;
    }
    EXPECT_LE(extra, 2) << "row " << r;
  }
  // Positions map to blocks; outside the matrix nothing is allowed.
  EXPECT_TRUE(a.allows(0, 127));    // global block 0
  EXPECT_FALSE(a.allows(128, 0));   // row 16 does not exist
  EXPECT_FALSE(a.allows(-1, 0));
}

TEST(BlockPattern, CountAllowedMatchesBruteForce) {
  const auto p = BlockPattern::bigbird(1, 9, 1, 1, 2, 3);
  for (int64_t r0 = -1; r0 < 10; ++r0)
    for (int64_t r1 = r0; r1 < 11; ++r1)
      for (int64_t c0 = -2; c0 < 10; c0 += 3)
        for (int64_t c1 = c0; c1 < 11; c1 += 2) {
          int64_t want = 0;
          for (int64_t r = r0; r <= r1; ++r)
            for (int64_t c = c0; c <= c1; ++c) want += p.block_allowed(r, c) ? 1 : 0;
          ASSERT_EQ(p.count_allowed(r0, r1, c0, c1), want);
        }
}

struct RandomMask {
  Mask mask;
  std::vector<int32_t> q_seg, k_seg, k_valid;
};

// A random combination of every mask part over n queries and m keys (batch 1).
RandomMask random_mask(std::mt19937_64& rng, int64_t n, int64_t m, int64_t max_pos) {
  RandomMask r;
  r.mask.causal = rng() % 2;
  if (rng() % 2) r.mask.window = kernels::Window{int64_t(rng() % 12), int64_t(rng() % 12)};
  if (rng() % 3 == 0) {
    const int64_t bs = 1 + rng() % 5, blocks = max_pos / bs + 2;
    r.mask.blocks = std::make_shared<BlockPattern>(
        BlockPattern::bigbird(bs, blocks, int64_t(rng() % 2), int64_t(rng() % 2), 1, rng()));
  }
  if (rng() % 3 == 0) {
    for (int64_t i = 0; i < n; ++i) r.q_seg.push_back(static_cast<int32_t>(i * 3 / n));
    for (int64_t j = 0; j < m; ++j) r.k_seg.push_back(static_cast<int32_t>(j * 3 / m));
    r.mask.q_segment = r.q_seg;
    r.mask.k_segment = r.k_seg;
  }
  if (rng() % 3 == 0) {
    for (int64_t j = 0; j < m; ++j) r.k_valid.push_back(rng() % 4 != 0);
    r.mask.k_valid = r.k_valid;
  }
  return r;
}

Positions random_positions(std::mt19937_64& rng, int64_t count) {
  switch (rng() % 3) {
    case 0: return Positions::contiguous(int64_t(rng() % 20) - 5, count);
    case 1: return Positions::strided(int64_t(rng() % 3), count, 1 + int64_t(rng() % 3));
    default: {
      const int64_t first = count / 2;
      return Positions({{0, first, 1}, {40 + int64_t(rng() % 10), count - first, 1}});
    }
  }
}

TEST(TileClassification, NeverWrongOnRandomMasksPositionsAndTiles) {
  std::mt19937_64 rng(99);
  int64_t counts[3] = {0, 0, 0};
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = 1 + rng() % 30, m = 1 + rng() % 30;
    const Positions qp = random_positions(rng, n), kp = random_positions(rng, m);
    std::vector<int64_t> q_pos(n), k_pos(m);
    qp.fill(q_pos);
    kp.fill(k_pos);
    const RandomMask rm = random_mask(rng, n, m, 80);
    kernels::validate_mask(rm.mask, 1, n, m);
    const MaskView view(rm.mask, 0, q_pos, k_pos);
    for (int t = 0; t < 20; ++t) {
      const int64_t q0 = rng() % n, q1 = q0 + 1 + rng() % (n - q0);
      const int64_t k0 = rng() % m, k1 = k0 + 1 + rng() % (m - k0);
      const TileKind kind = kernels::classify_tile(rm.mask, kernels::summarize_queries(view, q0, q1),
                                                   kernels::summarize_keys(view, k0, k1));
      int64_t allowed = 0;
      for (int64_t i = q0; i < q1; ++i)
        for (int64_t j = k0; j < k1; ++j) allowed += view.allowed(i, j) ? 1 : 0;
      ++counts[static_cast<int>(kind)];
      if (kind == TileKind::empty) {
        ASSERT_EQ(allowed, 0) << "trial " << trial;
      }
      if (kind == TileKind::full) {
        ASSERT_EQ(allowed, (q1 - q0) * (k1 - k0)) << "trial " << trial;
      }
    }
  }
  // The sample must exercise all three answers.
  EXPECT_GT(counts[0], 100);
  EXPECT_GT(counts[1], 100);
  EXPECT_GT(counts[2], 100);
}

TEST(TileClassification, ExactForContiguousCausalAndWindow) {
  Mask causal;
  causal.causal = true;
  Mask window;
  window.window = kernels::Window{3, 2};
  std::vector<int64_t> pos(40);
  for (int64_t i = 0; i < 40; ++i) pos[i] = i;
  for (const Mask* mask : {&causal, &window}) {
    const MaskView view(*mask, 0, pos, pos);
    for (int64_t q0 = 0; q0 < 40; q0 += 5)
      for (int64_t k0 = 0; k0 < 40; k0 += 7) {
        const int64_t q1 = std::min<int64_t>(40, q0 + 5), k1 = std::min<int64_t>(40, k0 + 7);
        int64_t allowed = 0;
        for (int64_t i = q0; i < q1; ++i)
          for (int64_t j = k0; j < k1; ++j) allowed += view.allowed(i, j) ? 1 : 0;
        const TileKind want = allowed == 0 ? TileKind::empty
                              : allowed == (q1 - q0) * (k1 - k0) ? TileKind::full
                                                                 : TileKind::partial;
        EXPECT_EQ(kernels::classify_tile(*mask, kernels::summarize_queries(view, q0, q1),
                                         kernels::summarize_keys(view, k0, k1)),
                  want);
      }
  }
}

TEST(NeededKeyBlocks, CoversEveryAllowedPairAndIsExactForContiguousCausal) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + rng() % 25, m = 1 + rng() % 25, block = 1 + rng() % 6;
    const Positions qp = random_positions(rng, n), kp = random_positions(rng, m);
    const RandomMask rm = random_mask(rng, n, m, 80);
    const auto needed = kernels::needed_key_blocks(rm.mask, qp, kp, block);
    for (int64_t b = 0; b * block < m; ++b) {
      bool any = false;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = b * block; j < std::min(m, (b + 1) * block); ++j)
          any = any || rm.mask.allows(qp.at(i), kp.at(j));
      if (any) {
        ASSERT_TRUE(std::find(needed.begin(), needed.end(), b) != needed.end())
            << "trial " << trial << " block " << b;
      }
    }
  }
  // Ring question: which ranks' key shards does rank 1 of 4 need under causal? Ranks 0 and 1.
  Mask causal;
  causal.causal = true;
  const kernels::Layout layout(kernels::LayoutKind::contiguous, 64, 4);
  for (int src = 0; src < 4; ++src)
    EXPECT_EQ(kernels::needed_key_blocks(causal, layout.positions(1), layout.positions(src), 64)
                  .size(),
              src <= 1 ? 1u : 0u)
        << src;
}

TEST(MaskValidation, RejectsInconsistentPerTokenParts) {
  std::vector<int32_t> seg(10);
  Mask m;
  m.q_segment = seg;
  EXPECT_THROW(kernels::validate_mask(m, 1, 10, 10), UsageError);  // keys missing
  m.k_segment = std::span<const int32_t>(seg).first(9);
  EXPECT_THROW(kernels::validate_mask(m, 1, 10, 10), UsageError);  // wrong size
  Mask w;
  w.window = kernels::Window{-1, 0};
  EXPECT_THROW(kernels::validate_mask(w, 1, 4, 4), UsageError);
}

}  // namespace
}  // namespace attnscale::test

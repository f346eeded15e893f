// Fused attention forward and backward against the naive fp64 reference, in float and double,
// for every mask kind, GQA/MQA, uneven tiles, N != M, q_offset, striped/zigzag positions and
// fully-masked rows.
#include <omp.h>

#include <algorithm>

#include "kernels/mask.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

using kernels::Positions;

template <typename T>
class AttentionTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AttentionTest, Types);

AttentionShape shape(int64_t b, int64_t hq, int64_t hkv, int64_t n, int64_t m, int64_t d,
                     int64_t dv) {
  return AttentionShape{b, hq, hkv, n, m, d, dv};
}

TYPED_TEST(AttentionTest, NoMaskUnevenTiles) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 37, 29, 20, 12);
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, NoMaskDefaultTilesLargeHead) {
  // Default tiles, D = 128 and Dv = 80: full 6x64 register blocks plus every kind of tail.
  AttentionCase c;
  c.shape = shape(1, 1, 1, 150, 203, 128, 80);
  c.tiles = kernels::TileSizes{};
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, CausalSquare) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 50, 50, 16, 16);
  c.mask.causal = true;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, CausalWithQueryOffsetAndNotEqualLengths) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 29, 42, 24, 8);
  c.q_offset = 13;  // queries at 13..41: the last query sees every key
  c.mask.causal = true;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, FullyMaskedRowsAreZeroWithMinusInfinityLse) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 30, 20, 8, 8);
  c.q_offset = -10;  // queries at -10..19: the first ten see no key
  c.mask.causal = true;
  const CaseData data = make_data(c);
  const auto r = run_kernels<TypeParam>(c, data);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(r.lse[i], -std::numeric_limits<TypeParam>::infinity()) << i;
    for (int64_t x = 0; x < 8; ++x) {
      EXPECT_EQ(r.out[i * 8 + x], TypeParam(0)) << i;
      EXPECT_EQ(r.dq[i * 8 + x], TypeParam(0)) << i;
    }
  }
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, WindowBothSides) {
  AttentionCase c;
  c.shape = shape(1, 2, 2, 45, 61, 16, 20);
  c.q_offset = -5;
  c.mask.window = std::make_pair(int64_t{7}, int64_t{3});
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, CausalSlidingWindowGqa) {
  AttentionCase c;
  c.shape = shape(2, 6, 2, 40, 40, 16, 16);
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{9}, int64_t{0});
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, MultiQueryHeads) {
  AttentionCase c;
  c.shape = shape(1, 4, 1, 33, 27, 16, 16);
  c.mask.causal = true;
  c.q_offset = 5;
  check_case<TypeParam>(c);
}

void set_bigbird(MaskCase& m, int64_t block_size, int64_t blocks, uint64_t seed) {
  const auto pattern = kernels::BlockPattern::bigbird(block_size, blocks, 1, 1, 2, seed);
  m.block_size = block_size;
  m.block_rows = m.block_cols = blocks;
  m.blocks.assign(pattern.allowed().begin(), pattern.allowed().end());
}

TYPED_TEST(AttentionTest, BlockSparseBigBirdTilesNotAligned) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 64, 64, 16, 16);
  set_bigbird(c.mask, 8, 8, 42);
  c.tiles = kernels::TileSizes{12, 20, 12, 12};
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, BlockSparseHandWrittenWithOrigins) {
  // Rows count query blocks from query 0 (global position q_offset) as op-check does.
  AttentionCase c;
  c.shape = shape(1, 1, 1, 20, 24, 8, 8);
  c.q_offset = 4;
  c.mask.block_size = 8;
  c.mask.block_rows = 3;
  c.mask.block_cols = 3;
  c.mask.block_q_origin = 4;
  c.mask.blocks = {1, 0, 0, 1, 1, 0, 0, 1, 1};
  c.mask.causal = true;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, SparseTransformerStridedCausal) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 48, 48, 8, 8);
  const auto p = kernels::BlockPattern::strided(4, 12, 3, true);
  c.mask.block_size = 4;
  c.mask.block_rows = c.mask.block_cols = 12;
  c.mask.blocks.assign(p.allowed().begin(), p.allowed().end());
  c.mask.causal = true;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, SegmentsCausalWindowCombined) {
  AttentionCase c;
  c.shape = shape(2, 2, 1, 57, 57, 16, 16);
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{20}, int64_t{0});
  c.mask.q_segment = sorted_segments(2, 57, 4, 3);
  c.mask.k_segment = c.mask.q_segment;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, KeyPaddingWithAllPaddedBatchRow) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 19, 35, 16, 16);
  c.mask.k_valid.assign(2 * 35, 1);
  for (int64_t j = 28; j < 35; ++j) c.mask.k_valid[j] = 0;      // batch 0: padded tail
  for (int64_t j = 0; j < 35; ++j) c.mask.k_valid[35 + j] = 0;  // batch 1: nothing present
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, StripedShardsCausal) {
  // Queries of rank 1 and keys of rank 2 in a striped layout of 100 tokens over 3 ranks.
  const kernels::Layout layout(kernels::LayoutKind::striped, 100, 3);
  AttentionCase c;
  c.q_positions = layout.positions(1);
  c.k_positions = layout.positions(2);
  c.shape = shape(1, 2, 1, c.q_positions.size(), c.k_positions.size(), 16, 16);
  c.mask.causal = true;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, ZigzagShardsCausalWithWindow) {
  const kernels::Layout layout(kernels::LayoutKind::zigzag, 90, 2);
  AttentionCase c;
  c.q_positions = layout.positions(0);
  c.k_positions = layout.positions(1);
  c.shape = shape(1, 1, 1, c.q_positions.size(), c.k_positions.size(), 16, 16);
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{30}, int64_t{0});
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, TwoThreadsSplitOneGroupAcrossKeyChunks) {
  // One (batch, kv head) group and two threads: the backward deals key tiles to two chunks.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  AttentionCase c;
  c.shape = shape(1, 2, 1, 70, 70, 16, 16);
  c.mask.causal = true;
  check_case<TypeParam>(c);
  omp_set_num_threads(saved);
}

TYPED_TEST(AttentionTest, ExplicitScale) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 17, 23, 8, 8);
  c.scale = 0.9;
  check_case<TypeParam>(c);
}

TYPED_TEST(AttentionTest, EmptyKeySetGivesZeroRowsAndEmptyQuerySetIsANoOp) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 5, 0, 8, 4);
  check_case<TypeParam>(c);  // every row: out 0, lse -inf, dq 0
  c.shape = shape(1, 2, 1, 0, 6, 8, 4);
  check_case<TypeParam>(c);  // dk and dv are 0
}

TEST(AttentionOverflow, ScoresInTheThousandsStayFinite) {
  // scale 60: scores reach about +-2000, far past exp's float range; everything stays finite.
  AttentionCase c;
  c.shape = shape(1, 1, 1, 33, 47, 16, 16);
  c.mask.causal = true;
  c.q_offset = 14;
  c.scale = 60.0;
  const CaseData data = make_data(c);
  const auto r = run_kernels<float>(c, data);
  for (const auto* x : {&r.out, &r.lse, &r.dq, &r.dk, &r.dv})
    for (const float e : *x) ASSERT_TRUE(std::isfinite(e));
  expect_close("out", r.out, data.ref.out, 1e-3, 1e-3);
  expect_close("lse", r.lse, data.ref.lse, 1e-3, 1e-4);
  const auto rd = run_kernels<double>(c, data);
  expect_close("dq", rd.dq, data.ref.dq, 1e-8, 1e-8);
  expect_close("dk", rd.dk, data.ref.dk, 1e-8, 1e-8);
}

TEST(AttentionArguments, RejectsBadShapesAndBackend) {
  AttentionCase c;
  c.shape = shape(1, 3, 2, 4, 4, 8, 8);  // 3 query heads, 2 kv heads
  std::vector<float> q(c.shape.q_size()), k(c.shape.k_size()), v(c.shape.v_size()),
      out(c.shape.out_size()), lse(c.shape.rows());
  try {
    kernels::attention_forward<float>(c.params(), {q, k, v, out, lse});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[attention] q_heads (3)"), std::string::npos) << e.what();
  }
  c.shape = shape(1, 2, 2, 4, 4, 8, 8);
  q.resize(c.shape.q_size());
  out.resize(c.shape.out_size());
  lse.resize(c.shape.rows());
  auto params = c.params();
  std::vector<float> short_k(3);
  EXPECT_THROW(kernels::attention_forward<float>(params, {q, short_k, v, out, lse}), UsageError);
  params.scale = -1;
  EXPECT_THROW(kernels::attention_forward<float>(params, {q, k, v, out, lse}), UsageError);
  params = c.params();
  params.backend = kernels::Backend::cuda;
  try {
    kernels::attention_forward<float>(params, {q, k, v, out, lse});
    FAIL() << "expected an error for the CUDA backend";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA kernel"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnscale::test

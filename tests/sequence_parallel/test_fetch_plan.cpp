// FetchPlan (which key rows a rank fetches from which owner) and the `auto` algorithm choice, on
// one process: the plan is pure arithmetic over the mask and the layout.
#include <gtest/gtest.h>

#include "distributed/context_parallel/fetch_plan.h"
#include "distributed/context_parallel/sequence_parallel_attention.h"

namespace attnscale::sp {
namespace {

using cp::RowRange;
using cp::RowSet;

FetchPlan plan_for(const kernels::Mask& mask, const kernels::Layout& layout, int64_t block) {
  std::vector<kernels::Positions> positions;
  for (int r = 0; r < layout.ranks; ++r) positions.push_back(layout.positions(r));
  return FetchPlan(mask, positions, positions, block);
}

TEST(FetchPlan, CausalWindowFetchesTheLastWindowRowsOfThePreviousRank) {
  kernels::Mask mask;
  mask.causal = true;
  mask.window = kernels::Window{5, 0};
  const kernels::Layout layout(kernels::LayoutKind::contiguous, 4 * 32, 4);
  const FetchPlan plan = plan_for(mask, layout, 64);
  for (int r = 0; r < 4; ++r)
    for (int o = 0; o < 4; ++o)
      EXPECT_EQ(plan.rows(r, o), o == r - 1 ? RowSet({RowRange{27, 32}}) : RowSet()) << r << " from " << o;
  EXPECT_EQ(plan.rows_received(0), 0);
  EXPECT_EQ(plan.rows_sent(3), 0);
  EXPECT_EQ(plan.rows_received(2), 5);
}

TEST(FetchPlan, TwoSidedWindowWiderThanAShardReachesSeveralRanks) {
  kernels::Mask mask;
  mask.window = kernels::Window{20, 9};
  const kernels::Layout layout(kernels::LayoutKind::contiguous, 5 * 8, 5);  // shards of 8
  const FetchPlan plan = plan_for(mask, layout, 64);
  // Rank 3 holds [24, 32): keys [4, 41) clipped to [4, 40): ranks 0 (rows 4..7), 1, 2 and 4 (all).
  EXPECT_EQ(plan.rows(3, 0), RowSet({RowRange{4, 8}}));
  EXPECT_EQ(plan.rows(3, 1), RowSet::all(8));
  EXPECT_EQ(plan.rows(3, 2), RowSet::all(8));
  EXPECT_EQ(plan.rows(3, 4), RowSet::all(8));
  // Rank 0 holds [0, 8): keys up to 16, i.e. all of rank 1 and the first row of rank 2.
  EXPECT_EQ(plan.rows(0, 1), RowSet::all(8));
  EXPECT_EQ(plan.rows(0, 2), RowSet({RowRange{0, 1}}));
  EXPECT_TRUE(plan.rows(0, 3).empty());
}

TEST(FetchPlan, BlockPatternFetchesTheNamedBlocks) {
  const int64_t block = 4;
  // 8 blocks over 2 ranks; query block 5 (rank 1) names key blocks 0 and 2 only (besides itself).
  std::vector<uint8_t> allowed(64, 0);
  for (int64_t b = 0; b < 8; ++b) allowed[static_cast<size_t>(b * 8 + b)] = 1;
  allowed[5 * 8 + 0] = allowed[5 * 8 + 2] = 1;
  kernels::Mask mask;
  mask.blocks = std::make_shared<kernels::BlockPattern>(block, 8, 8, allowed);
  const FetchPlan plan = plan_for(mask, kernels::Layout(kernels::LayoutKind::contiguous, 32, 2), block);
  EXPECT_EQ(plan.rows(1, 0), RowSet({RowRange{0, 4}, RowRange{8, 12}}));
  EXPECT_TRUE(plan.rows(0, 1).empty());
}

TEST(AlgoChoice, HaloForNarrowWindowsBlockFetchForPatternsRingOtherwise) {
  const kernels::Layout contiguous(kernels::LayoutKind::contiguous, 100, 4);  // shards of 25
  kernels::Mask mask;
  mask.causal = true;
  mask.window = kernels::Window{24, 0};
  EXPECT_EQ(choose_algo(mask, contiguous).algo, SeqAlgo::halo);
  mask.window = kernels::Window{25, 0};
  EXPECT_EQ(choose_algo(mask, contiguous).algo, SeqAlgo::ring);
  mask.window = kernels::Window{4, 0};
  EXPECT_EQ(choose_algo(mask, kernels::Layout(kernels::LayoutKind::zigzag, 100, 4)).algo, SeqAlgo::ring);
  kernels::Mask sparse;
  sparse.blocks = std::make_shared<kernels::BlockPattern>(kernels::BlockPattern::strided(4, 25, 3, true));
  EXPECT_EQ(choose_algo(sparse, contiguous).algo, SeqAlgo::sparse_fetch);
  EXPECT_EQ(choose_algo(kernels::Mask{}, contiguous).algo, SeqAlgo::ring);
  EXPECT_FALSE(choose_algo(mask, contiguous).reason.empty());
}

TEST(AlgoChoice, ParsesTheCommandLineNames) {
  EXPECT_EQ(parse_seq_algo("halo"), SeqAlgo::halo);
  EXPECT_EQ(parse_seq_algo("sparse-fetch"), SeqAlgo::sparse_fetch);
  EXPECT_EQ(parse_seq_algo("auto"), SeqAlgo::automatic);
  EXPECT_EQ(parse_seq_algo("ring"), SeqAlgo::ring);
  for (const SeqAlgo a : {SeqAlgo::halo, SeqAlgo::sparse_fetch, SeqAlgo::ring, SeqAlgo::automatic})
    EXPECT_EQ(parse_seq_algo(seq_algo_name(a)), a);
  EXPECT_THROW(parse_seq_algo("sparse"), UsageError);
}

}  // namespace
}  // namespace attnscale::sp

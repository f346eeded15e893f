// FetchPlan (which key rows a rank fetches from which owner) and the parallel algorithms' names,
// fit check and `auto` choice (distributed/parallel_algo.h), on one process: pure arithmetic over
// the mask and the layout.
#include <gtest/gtest.h>

#include "distributed/context_parallel/fetch_plan.h"
#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "distributed/parallel_algo.h"
#include "framework/config/config.h"

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
  EXPECT_EQ(choose_algo(mask, contiguous).algo, ParallelAlgo::halo);
  mask.window = kernels::Window{25, 0};
  EXPECT_EQ(choose_algo(mask, contiguous).algo, ParallelAlgo::ring);
  mask.window = kernels::Window{4, 0};
  EXPECT_EQ(choose_algo(mask, kernels::Layout(kernels::LayoutKind::zigzag, 100, 4)).algo, ParallelAlgo::ring);
  kernels::Mask sparse;
  sparse.blocks = std::make_shared<kernels::BlockPattern>(kernels::BlockPattern::strided(4, 25, 3, true));
  EXPECT_EQ(choose_algo(sparse, contiguous).algo, ParallelAlgo::sparse_fetch);
  EXPECT_EQ(choose_algo(kernels::Mask{}, contiguous).algo, ParallelAlgo::ring);
  EXPECT_FALSE(choose_algo(mask, contiguous).reason.empty());
}

TEST(ParallelAlgoNames, OneTableBothSpellings) {
  // The YAML spelling (parallel.algo: sparse_fetch) and the command line's (--algo sparse-fetch).
  EXPECT_EQ(parse_parallel_algo("sparse_fetch"), ParallelAlgo::sparse_fetch);
  EXPECT_EQ(parse_parallel_algo("sparse-fetch"), ParallelAlgo::sparse_fetch);
  EXPECT_EQ(parse_parallel_algo("all-gather"), ParallelAlgo::all_gather);
  EXPECT_EQ(parse_parallel_algo("auto"), ParallelAlgo::auto_);
  EXPECT_EQ(parallel_algo_name(ParallelAlgo::sparse_fetch), "sparse_fetch");
  EXPECT_EQ(parallel_algo_flag(ParallelAlgo::sparse_fetch), "sparse-fetch");
  EXPECT_EQ(config::to_string(ParallelAlgo::all_gather), "all_gather");  // the config reads the same table
  const std::vector<std::string> flags = parallel_algo_flags();
  ASSERT_EQ(flags.size(), kParallelAlgoNames.size());
  for (size_t i = 0; i < flags.size(); ++i) {
    const auto algo = static_cast<ParallelAlgo>(i);
    EXPECT_EQ(parse_parallel_algo(parallel_algo_name(algo)), algo);
    EXPECT_EQ(parse_parallel_algo(flags[i]), algo);
  }
  EXPECT_FALSE(parse_parallel_algo("sparse").has_value());
  try {
    parallel_algo_from_name("tree", "op-check");
    ADD_FAILURE() << "an unknown name must throw";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[op-check] unknown parallel algorithm 'tree' (expected ring, ulysses, "
                                         "hybrid, halo, sparse-fetch, all-gather, auto)"),
              std::string::npos)
        << e.what();
  }
}

TEST(ParallelAlgoFit, WhatEachAlgorithmNeeds) {
  const AlgoInputs window{.window = true, .blocks = false, .contiguous = true, .softmax = true};
  EXPECT_FALSE(algo_misfit(ParallelAlgo::halo, window).has_value());
  EXPECT_EQ(algo_misfit(ParallelAlgo::halo, AlgoInputs{}), AlgoNeed::window);
  AlgoInputs zigzag_window = window;
  zigzag_window.contiguous = false;
  EXPECT_EQ(algo_misfit(ParallelAlgo::halo, zigzag_window), AlgoNeed::contiguous_layout);
  EXPECT_EQ(algo_misfit(ParallelAlgo::sparse_fetch, window), AlgoNeed::block_pattern);
  AlgoInputs sparsemax;
  sparsemax.softmax = false;
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses, ParallelAlgo::hybrid})
    EXPECT_EQ(algo_misfit(algo, sparsemax), AlgoNeed::softmax) << parallel_algo_name(algo);
  EXPECT_FALSE(algo_misfit(ParallelAlgo::all_gather, sparsemax).has_value());
  EXPECT_FALSE(algo_misfit(ParallelAlgo::auto_, sparsemax).has_value());
  // A layout over one rank is contiguous whatever its kind.
  kernels::Mask windowed;
  windowed.window = kernels::Window{2, 0};
  EXPECT_TRUE(algo_inputs(windowed, kernels::Layout(kernels::LayoutKind::zigzag, 10, 1)).contiguous);
  EXPECT_FALSE(algo_inputs(windowed, kernels::Layout(kernels::LayoutKind::zigzag, 10, 2)).contiguous);
  EXPECT_THROW(check_algo_fits(ParallelAlgo::halo, AlgoInputs{}, "test"), UsageError);
  // What auto picks always fits.
  const kernels::Layout contiguous(kernels::LayoutKind::contiguous, 100, 4);
  for (const kernels::Normalizer normalizer : {kernels::Normalizer::softmax, kernels::Normalizer::sparsemax}) {
    const AlgoChoice choice = choose_algo(windowed, contiguous, normalizer);
    EXPECT_FALSE(algo_misfit(choice.algo, algo_inputs(windowed, contiguous, normalizer)).has_value());
    EXPECT_EQ(resolve_algo(ParallelAlgo::auto_, windowed, contiguous, normalizer), choice.algo);
  }
  EXPECT_EQ(resolve_algo(ParallelAlgo::ulysses, windowed, contiguous), ParallelAlgo::ulysses);
}

}  // namespace
}  // namespace attnscale::sp

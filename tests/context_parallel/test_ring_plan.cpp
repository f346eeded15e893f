// The pieces of context parallelism that need no second rank: row sets, the ring plan derived
// from the mask and layout, Ulysses group orders and head splits.
#include <gtest/gtest.h>

#include "base/error.h"
#include "distributed/context_parallel/ring_plan.h"
#include "distributed/context_parallel/row_set.h"
#include "distributed/context_parallel/ulysses.h"

namespace attnscale::cp {
namespace {

using kernels::Layout;
using kernels::LayoutKind;
using kernels::Positions;

TEST(RowSet, MergesSortsAndSubtracts) {
  const RowSet a({{10, 20}, {0, 4}, {3, 6}, {20, 22}});
  ASSERT_EQ(a.ranges().size(), 2u);
  EXPECT_EQ(a.ranges()[0], (RowRange{0, 6}));
  EXPECT_EQ(a.ranges()[1], (RowRange{10, 22}));
  EXPECT_EQ(a.size(), 18);
  EXPECT_EQ(a.packed_index(10), 6);
  EXPECT_EQ(a.packed_index(21), 17);
  EXPECT_THROW(a.packed_index(8), UsageError);
  const RowSet b({{2, 3}, {12, 30}});
  const RowSet diff = set_difference(a, b);
  EXPECT_EQ(diff, RowSet({{0, 2}, {3, 6}, {10, 12}}));
  EXPECT_EQ(set_union(diff, b), RowSet({{0, 6}, {10, 30}}));
  EXPECT_TRUE(a.contains(diff));
  EXPECT_FALSE(diff.contains(a));
  EXPECT_TRUE(RowSet().empty());
}

TEST(RowSet, SubsetPositionsFollowTheRuns) {
  // Zigzag shard: positions 4..7 then 20..23.
  const Positions all({{4, 4, 1}, {20, 4, 1}});
  const Positions some = subset_positions(all, RowSet({{2, 6}}));
  std::vector<int64_t> global(static_cast<size_t>(some.size()));
  some.fill(global);
  EXPECT_EQ(global, (std::vector<int64_t>{6, 7, 20, 21}));
  const Positions striped = subset_positions(Positions::strided(1, 10, 3), RowSet({{7, 9}}));
  EXPECT_EQ(striped, Positions::strided(22, 2, 3));
}

TEST(RowCopy, GatherAndScatterRoundTrip) {
  const RowSet all = RowSet::all(5), some({{1, 2}, {3, 5}});
  // [outer 2, rows 5, width 2]
  std::vector<int> src(20);
  for (int i = 0; i < 20; ++i) src[static_cast<size_t>(i)] = i;
  std::vector<int> packed(2 * 3 * 2);
  gather_rows<int>(src, all, packed, some, 2, 2);
  EXPECT_EQ(packed, (std::vector<int>{2, 3, 6, 7, 8, 9, 12, 13, 16, 17, 18, 19}));
  std::vector<int> back(20, 0);
  scatter_rows<int>(packed, some, back, all, 2, 2, false);
  scatter_rows<int>(packed, some, back, all, 2, 2, true);
  EXPECT_EQ(back[2], 4);
  EXPECT_EQ(back[0], 0);
  EXPECT_EQ(back[19], 38);
}

TEST(RingPlan, CausalWindowNeedsExactlyTheWindowOfThePreviousShard) {
  kernels::Mask mask;
  mask.causal = true;
  mask.window = kernels::Window{5, 0};
  const Layout layout(LayoutKind::contiguous, 4 * 300, 4);  // shards of 300, plan blocks of 64
  std::vector<Positions> pos;
  for (int r = 0; r < 4; ++r) pos.push_back(layout.positions(r));
  const RingPlan plan(mask, pos, pos);
  for (int owner = 0; owner < 4; ++owner) {
    EXPECT_EQ(plan.last_hop(owner), owner < 3 ? 1 : 0);
    if (owner < 3) {
      EXPECT_EQ(plan.needed(owner, 1), RowSet({{295, 300}}));
    }
    for (int hop = 2; hop < 4; ++hop) EXPECT_TRUE(plan.carried(owner, hop).empty());
  }
  EXPECT_TRUE(plan.step_moves_data(1));
  EXPECT_FALSE(plan.step_moves_data(2));
  EXPECT_EQ(plan.rows_sent(0), 5);
  EXPECT_EQ(plan.rows_sent(3), 0);
}

TEST(RingPlan, WideWindowShedsRowsAlongTheWay) {
  // Window 70 over shards of 50: rank o + 1 needs all of o's keys it can reach, o + 2 the last 20.
  kernels::Mask mask;
  mask.causal = true;
  mask.window = kernels::Window{70, 0};
  const Layout layout(LayoutKind::contiguous, 200, 4);
  std::vector<Positions> pos;
  for (int r = 0; r < 4; ++r) pos.push_back(layout.positions(r));
  const RingPlan plan(mask, pos, pos, 16);
  EXPECT_EQ(plan.last_hop(0), 2);
  EXPECT_EQ(plan.needed(0, 1), RowSet::all(50));
  EXPECT_EQ(plan.needed(0, 2), RowSet({{30, 50}}));
  EXPECT_EQ(plan.carried(0, 1), RowSet::all(50));
  EXPECT_EQ(plan.carried(0, 2), RowSet({{30, 50}}));
  EXPECT_EQ(plan.last_hop(3), 0) << "rank 0 needs nothing of the last shard";
  for (int owner = 0; owner < 4; ++owner)
    for (int hop = 1; hop + 1 < 4; ++hop)
      EXPECT_TRUE(plan.carried(owner, hop).contains(plan.carried(owner, hop + 1)));
}

TEST(RingPlan, ZigzagCausalNeedsEveryShardAndNoMaskNeedsEverything) {
  kernels::Mask causal;
  causal.causal = true;
  const Layout layout(LayoutKind::zigzag, 101, 3);
  std::vector<Positions> pos;
  for (int r = 0; r < 3; ++r) pos.push_back(layout.positions(r));
  const RingPlan zigzag(causal, pos, pos);
  for (int owner = 0; owner < 3; ++owner) EXPECT_EQ(zigzag.last_hop(owner), 2);
  const RingPlan none(kernels::Mask{}, pos, pos);
  for (int owner = 0; owner < 3; ++owner)
    for (int hop = 1; hop < 3; ++hop) EXPECT_EQ(none.needed(owner, hop), RowSet::all(pos[static_cast<size_t>(owner)].size()));
}

TEST(RingPlan, SegmentRangesPruneKeyBlocksOfFinishedDocuments) {
  // Two ranks of 32 tokens, one batch row; documents [0, 20), [20, 40), [40, 64).
  std::vector<int32_t> ids(64);
  for (int i = 0; i < 64; ++i) ids[static_cast<size_t>(i)] = i < 20 ? 0 : i < 40 ? 1 : 2;
  const std::vector<int64_t> counts{32, 32};
  SegmentSummaries s;
  s.batch = 1;
  s.block = 8;
  for (int r = 0; r < 2; ++r) {
    const std::span<const int32_t> mine = std::span<const int32_t>(ids).subspan(static_cast<size_t>(32 * r), 32);
    const SegmentSummaries one = gather_segment_summaries(nullptr, mine, mine, 1, std::vector<int64_t>{32}, 8);
    s.queries.push_back(one.queries[0]);
    s.keys.push_back(one.keys[0]);
  }
  EXPECT_EQ(s.possible_rows(1, 0, 32), RowSet({{16, 32}})) << "rank 1 continues document 1 (rows 20..31)";
  EXPECT_EQ(s.possible_rows(0, 1, 32), RowSet({{0, 8}})) << "rank 0's last document is rank 1's first";
  kernels::Mask causal;
  causal.causal = true;
  const Layout layout(LayoutKind::contiguous, 64, 2);
  const std::vector<Positions> pos{layout.positions(0), layout.positions(1)};
  const RingPlan plan(causal, pos, pos, 64, &s);
  EXPECT_EQ(plan.needed(0, 1), RowSet({{16, 32}}));
  EXPECT_TRUE(plan.needed(1, 1).empty()) << "causal: rank 0 never needs rank 1's keys";
  std::vector<int32_t> other(static_cast<size_t>(32), 0);
  EXPECT_THROW(gather_segment_summaries(nullptr, other, other, 1, std::vector<int64_t>{31}, 8), UsageError);
}

TEST(GroupOrder, SortsZigzagIntoOneRunAndKeepsStripedHybridGroupsConcatenated) {
  const Layout zigzag(LayoutKind::zigzag, 37, 4);
  std::vector<Positions> members;
  for (int r = 0; r < 4; ++r) members.push_back(zigzag.positions(r));
  const GroupOrder whole = group_order(members);
  EXPECT_EQ(whole.positions, Positions::contiguous(0, 37));
  for (int r = 0; r < 4; ++r)
    for (int64_t i = 0; i < members[static_cast<size_t>(r)].size(); ++i)
      EXPECT_EQ(whole.rows[static_cast<size_t>(r)][static_cast<size_t>(i)], members[static_cast<size_t>(r)].at(i));

  const Layout striped(LayoutKind::striped, 40, 4);
  const std::vector<Positions> pair{striped.positions(0), striped.positions(1)};
  const GroupOrder hybrid = group_order(pair);
  EXPECT_EQ(hybrid.positions.runs().size(), 2u) << "sorting would give 10 runs of 2";
  EXPECT_EQ(hybrid.rows[1][0], 10);
}

TEST(HeadSplit, QueryHeadsEvenlyKvHeadsByTheQueriesTheyServe) {
  const HeadSplit gqa = split_heads(8, 4, 2);
  EXPECT_EQ(gqa.q[1].begin, 4);
  EXPECT_EQ(gqa.kv[1].begin, 2);
  EXPECT_EQ(gqa.kv[1].count, 2);
  const HeadSplit mqa = split_heads(8, 1, 4);
  for (const HeadRange& r : mqa.kv) {
    EXPECT_EQ(r.begin, 0);
    EXPECT_EQ(r.count, 1);
  }
  const HeadSplit shared = split_heads(8, 2, 4);  // kv head 0 serves members 0 and 1
  EXPECT_EQ(shared.kv[1].begin, 0);
  EXPECT_EQ(shared.kv[2].begin, 1);
  try {
    split_heads(12, 12, 8);
    FAIL() << "12 heads over 8 ranks must be refused";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "[ulysses] heads (12) not divisible by ulysses degree (8)");
  }
  EXPECT_THROW(split_heads(12, 3, 4), UsageError);
}

}  // namespace
}  // namespace attnscale::cp

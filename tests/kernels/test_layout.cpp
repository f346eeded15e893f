// Layouts and positions: every global position lives on exactly one rank, owner() inverts
// positions(), uneven lengths, and Positions::range over several runs.
#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "kernels/layout.h"

namespace attnscale::test {
namespace {

using kernels::Layout;
using kernels::LayoutKind;
using kernels::Positions;

std::vector<int64_t> all(const Positions& p) {
  std::vector<int64_t> out(static_cast<size_t>(p.size()));
  p.fill(out);
  return out;
}

TEST(Layout, ContiguousUneven) {
  const Layout l(LayoutKind::contiguous, 10, 3);
  EXPECT_EQ(all(l.positions(0)), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(all(l.positions(1)), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(all(l.positions(2)), (std::vector<int64_t>{7, 8, 9}));
}

TEST(Layout, ZigzagHoldsChunkRAndMirror) {
  // 10 tokens, 4 chunks of 3, 3, 2, 2: rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
  const Layout l(LayoutKind::zigzag, 10, 2);
  EXPECT_EQ(all(l.positions(0)), (std::vector<int64_t>{0, 1, 2, 8, 9}));
  EXPECT_EQ(all(l.positions(1)), (std::vector<int64_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(l.positions(0).runs().size(), 2u);
}

TEST(Layout, StripedRoundRobin) {
  const Layout l(LayoutKind::striped, 10, 3);
  EXPECT_EQ(all(l.positions(0)), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(all(l.positions(1)), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(all(l.positions(2)), (std::vector<int64_t>{2, 5, 8}));
  EXPECT_EQ(l.positions(1).runs().size(), 1u);  // one strided run, not a list of tokens
}

TEST(Layout, EveryPositionOnceAndOwnerInvertsPositions) {
  for (const LayoutKind kind : {LayoutKind::contiguous, LayoutKind::zigzag, LayoutKind::striped})
    for (const int64_t length : {0, 1, 3, 7, 16, 33})
      for (const int ranks : {1, 2, 3, 4, 5}) {
        const Layout l(kind, length, ranks);
        std::vector<int> seen(static_cast<size_t>(length), 0);
        int64_t total = 0;
        for (int r = 0; r < ranks; ++r) {
          const Positions p = l.positions(r);
          EXPECT_EQ(l.local_length(r), p.size());
          total += p.size();
          for (int64_t i = 0; i < p.size(); ++i) {
            const int64_t g = p.at(i);
            ASSERT_GE(g, 0);
            ASSERT_LT(g, length);
            ++seen[g];
            EXPECT_EQ(l.global_position(r, i), g);
            const auto owner = l.owner(g);
            EXPECT_EQ(owner.rank, r) << kernels::layout_kind_name(kind) << " L=" << length
                                     << " P=" << ranks << " g=" << g;
            EXPECT_EQ(owner.local, i);
          }
        }
        EXPECT_EQ(total, length);
        for (int64_t g = 0; g < length; ++g) EXPECT_EQ(seen[g], 1) << g;
      }
}

TEST(Positions, RangeAcrossRunsAndErrors) {
  const Positions p({{10, 3, 1}, {2, 4, 5}});  // 10 11 12 | 2 7 12 17
  EXPECT_EQ(p.size(), 7);
  EXPECT_EQ(p.at(3), 2);
  EXPECT_EQ(p.at(6), 17);
  EXPECT_EQ(p.range(0, 3), std::make_pair(int64_t{10}, int64_t{12}));
  EXPECT_EQ(p.range(2, 5), std::make_pair(int64_t{2}, int64_t{12}));
  EXPECT_EQ(p.range(0, 7), std::make_pair(int64_t{2}, int64_t{17}));
  EXPECT_THROW(p.at(7), UsageError);
  EXPECT_THROW(p.range(3, 3), UsageError);
  EXPECT_THROW(Positions({{0, 3, 0}}), UsageError);
  EXPECT_THROW(Layout(LayoutKind::striped, 4, 0), UsageError);
  EXPECT_THROW(kernels::parse_layout_kind("ring"), UsageError);
  EXPECT_EQ(kernels::parse_layout_kind("zigzag"), LayoutKind::zigzag);
}

}  // namespace
}  // namespace attnscale::test

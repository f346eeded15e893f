#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "distributed/comm/node_info.h"
#include "distributed/comm/process_grid.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// The world ranks of a communicator's members, in its rank order.
std::vector<int> members(Communicator& comm) { return comm.all_gather_value(test::world().rank()); }

TEST(Split, EvenAndOddRanksWithReversedKeys) {
  MpiCommunicator& world = test::world();
  const int parity = world.rank() % 2;
  auto half = world.split(parity, -world.rank(), "half");
  ASSERT_NE(half, nullptr);
  std::vector<int> expected;
  for (int r = world.size() - 1; r >= 0; --r)
    if (r % 2 == parity) expected.push_back(r);
  EXPECT_EQ(members(*half), expected);
  EXPECT_EQ(half->name(), "half");
  EXPECT_EQ(half->all_reduce_value(1, ReduceOp::sum), static_cast<int>(expected.size()));
}

TEST(Split, NoColourLeavesARankOut) {
  MpiCommunicator& world = test::world();
  auto rest = world.split(world.rank() == 0 ? Communicator::no_color : 0, world.rank(), "rest");
  if (world.rank() == 0) {
    EXPECT_EQ(rest, nullptr);
  } else {
    ASSERT_NE(rest, nullptr);
    EXPECT_EQ(rest->size(), world.size() - 1);
    EXPECT_EQ(rest->rank(), world.rank() - 1);
  }
}

TEST(ProcessGrid, EveryShapeThatFitsTheWorld) {
  MpiCommunicator& world = test::world();
  const int p = world.size();
  for (int cp = 1; cp <= p; ++cp) {
    if (p % cp != 0) continue;
    for (int ulysses = 1; ulysses <= cp; ++ulysses) {
      if (cp % ulysses != 0) continue;
      const GridShape shape = GridShape::for_world(p, cp, ulysses);
      SCOPED_TRACE(fmt::format("dp {} cp {} ulysses {}", shape.dp, shape.cp, shape.ulysses));
      ProcessGrid grid(world, shape);
      const GridCoords me = grid.coords();
      EXPECT_EQ(grid.dp().size(), shape.dp);
      EXPECT_EQ(grid.cp().size(), shape.cp);
      EXPECT_EQ(grid.ulysses().size(), shape.ulysses);
      EXPECT_EQ(grid.ring().size(), shape.ring());
      EXPECT_EQ(grid.dp().rank(), me.dp);
      EXPECT_EQ(grid.cp().rank(), me.cp);
      EXPECT_EQ(grid.ulysses().rank(), me.ulysses);
      EXPECT_EQ(grid.ring().rank(), me.ring);
      // Each group holds exactly the world ranks whose other coordinates equal ours, in order.
      std::vector<int> dp_group, cp_group, ulysses_group, ring_group;
      for (int r = 0; r < p; ++r) {
        const GridCoords c = grid_coords(shape, r);
        if (c.cp == me.cp) dp_group.push_back(r);
        if (c.dp == me.dp) cp_group.push_back(r);
        if (c.dp == me.dp && c.ring == me.ring) ulysses_group.push_back(r);
        if (c.dp == me.dp && c.ulysses == me.ulysses) ring_group.push_back(r);
      }
      EXPECT_EQ(members(grid.dp()), dp_group);
      EXPECT_EQ(members(grid.cp()), cp_group);
      EXPECT_EQ(members(grid.ulysses()), ulysses_group);
      EXPECT_EQ(members(grid.ring()), ring_group);
    }
  }
}

TEST(ProcessGrid, ShapeThatDoesNotDivideIsAUsageErrorOnEveryRank) {
  MpiCommunicator& world = test::world();
  const int p = world.size();
  EXPECT_THROW(ProcessGrid(world, GridShape{.dp = 1, .cp = p + 1, .ulysses = 1}), UsageError);
  EXPECT_THROW(GridShape::for_world(p, p, p + 1), UsageError);
  world.barrier();
}

TEST(NodeInfo, AllRanksShareThisNode) {
  MpiCommunicator& world = test::world();
  const NodeInfo node = node_info();
  EXPECT_EQ(node.local_size, world.size());
  std::vector<int> local = world.all_gather_value(node.local_rank);
  std::sort(local.begin(), local.end());
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(local[r], r);
}

}  // namespace
}  // namespace attnscale

#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "base/error.h"
#include "distributed/comm/process_grid.h"

namespace attnscale {
namespace {

TEST(GridShape, InfersDataParallelDegree) {
  const GridShape shape = GridShape::for_world(8, 4, 2);
  EXPECT_EQ(shape.dp, 2);
  EXPECT_EQ(shape.cp, 4);
  EXPECT_EQ(shape.ulysses, 2);
  EXPECT_EQ(shape.ring(), 2);
}

void expect_usage_error(const GridShape& shape, int world_size, const std::string& fragment) {
  try {
    validate_grid(shape, world_size);
    ADD_FAILURE() << "accepted dp " << shape.dp << " cp " << shape.cp << " ulysses " << shape.ulysses;
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("[process_grid]", 0), 0u) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(GridShape, RejectsSizesThatDoNotDivide) {
  expect_usage_error({.dp = 2, .cp = 2, .ulysses = 1}, 6, "world size 6 is not dp (2) x cp (2) = 4");
  expect_usage_error({.dp = 1, .cp = 6, .ulysses = 4}, 6, "cp degree 6 is not divisible by the ulysses degree 4");
  expect_usage_error({.dp = 0, .cp = 2, .ulysses = 1}, 2, "degrees must be >= 1");
  EXPECT_THROW(GridShape::for_world(6, 4), UsageError);
}

TEST(GridShape, CoordinatesAreABijectionWithUlyssesInnermost) {
  const GridShape shape{.dp = 2, .cp = 6, .ulysses = 3};
  std::set<std::tuple<int, int, int>> seen;
  for (int rank = 0; rank < shape.world_size(); ++rank) {
    const GridCoords c = grid_coords(shape, rank);
    EXPECT_EQ(c.cp, c.ring * shape.ulysses + c.ulysses);
    EXPECT_EQ(rank, c.dp * shape.cp + c.cp);
    EXPECT_LT(c.ring, shape.ring());
    seen.insert({c.dp, c.ring, c.ulysses});
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(shape.world_size()));
  EXPECT_EQ(grid_coords(shape, 7), (GridCoords{.dp = 1, .cp = 1, .ulysses = 1, .ring = 0}));
}

}  // namespace
}  // namespace attnscale

#include "distributed/comm/process_grid.h"

#include "base/error.h"

namespace attnscale {

GridShape GridShape::for_world(int world_size, int cp, int ulysses) {
  ATTNSCALE_CHECK(cp >= 1, "process_grid", "cp degree must be >= 1, got {}", cp);
  ATTNSCALE_CHECK(world_size % cp == 0, "process_grid",
                  "world size {} is not divisible by the cp degree {}", world_size, cp);
  GridShape shape{.dp = world_size / cp, .cp = cp, .ulysses = ulysses};
  validate_grid(shape, world_size);
  return shape;
}

void validate_grid(const GridShape& shape, int world_size) {
  ATTNSCALE_CHECK(shape.dp >= 1 && shape.cp >= 1 && shape.ulysses >= 1, "process_grid",
                  "degrees must be >= 1, got dp {} cp {} ulysses {}", shape.dp, shape.cp, shape.ulysses);
  ATTNSCALE_CHECK(shape.cp % shape.ulysses == 0, "process_grid",
                  "cp degree {} is not divisible by the ulysses degree {} (cp = ulysses x ring)", shape.cp,
                  shape.ulysses);
  ATTNSCALE_CHECK(shape.world_size() == world_size, "process_grid",
                  "world size {} is not dp ({}) x cp ({}) = {}", world_size, shape.dp, shape.cp,
                  shape.world_size());
}

GridCoords grid_coords(const GridShape& shape, int world_rank) {
  const int cp_index = world_rank % shape.cp;
  return GridCoords{.dp = world_rank / shape.cp,
                    .cp = cp_index,
                    .ulysses = cp_index % shape.ulysses,
                    .ring = cp_index / shape.ulysses};
}

ProcessGrid::ProcessGrid(Communicator& world, const GridShape& shape)
    : world_(world), shape_(shape), coords_(grid_coords(shape, world.rank())) {
  validate_grid(shape_, world.size());
  const GridCoords& c = coords_;
  dp_ = world.split(c.cp, c.dp, "dp");
  cp_ = world.split(c.dp, c.cp, "cp");
  ulysses_ = world.split(c.dp * shape_.ring() + c.ring, c.ulysses, "ulysses");
  ring_ = world.split(c.dp * shape_.ulysses + c.ulysses, c.ring, "ring");
}

}  // namespace attnscale

// The process grid: world = dp x cp, and cp = ulysses x ring for hybrid context parallelism
// (DESIGN.md 5). Rank placement, innermost first:
//   world rank = dp_index * cp + cp_index,   cp_index = ring_index * ulysses + ulysses_index
// so a cp group is consecutive world ranks (one node when it fits: it moves the most bytes) and a
// Ulysses group (all-to-all every layer) is innermost. Parameter gradients reduce over dp x cp,
// which is world().
#pragma once

#include <memory>

#include "distributed/comm/communicator.h"

namespace attnscale {

struct GridShape {
  int dp = 1;
  int cp = 1;
  int ulysses = 1;  // divides cp

  int ring() const { return ulysses > 0 ? cp / ulysses : 0; }
  int world_size() const { return dp * cp; }
  // dp = world_size / cp; validated.
  static GridShape for_world(int world_size, int cp, int ulysses = 1);
};

// UsageError "[process_grid] ..." unless every degree is >= 1, ulysses divides cp and
// dp x cp == world_size.
void validate_grid(const GridShape& shape, int world_size);

struct GridCoords {
  int dp = 0;
  int cp = 0;
  int ulysses = 0;
  int ring = 0;
  friend bool operator==(const GridCoords&, const GridCoords&) = default;
};

GridCoords grid_coords(const GridShape& shape, int world_rank);

class ProcessGrid {
 public:
  // Collective over world: validates the shape and splits world four times.
  ProcessGrid(Communicator& world, const GridShape& shape);

  const GridShape& shape() const { return shape_; }
  const GridCoords& coords() const { return coords_; }

  Communicator& world() const { return world_; }
  Communicator& dp() const { return *dp_; }            // same cp index, across replicas
  Communicator& cp() const { return *cp_; }            // one sequence's shards
  Communicator& ulysses() const { return *ulysses_; }  // all-to-all group inside cp
  Communicator& ring() const { return *ring_; }        // ring across Ulysses groups inside cp

 private:
  Communicator& world_;
  GridShape shape_;
  GridCoords coords_;
  std::unique_ptr<Communicator> dp_;
  std::unique_ptr<Communicator> cp_;
  std::unique_ptr<Communicator> ulysses_;
  std::unique_ptr<Communicator> ring_;
};

}  // namespace attnscale

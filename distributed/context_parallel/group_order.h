// The token order of a Ulysses group: after the sequence-to-head all-to-all a member holds the
// tokens of every member of its group, and this says in which order. Members' tokens are
// concatenated in member order unless sorting them by global position gives fewer strided runs
// (zigzag and striped shards of a whole cp group sort into one contiguous run), because the
// kernel classifies tiles by position range: fewer, contiguous runs skip more masked tiles.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/layout.h"

namespace attnscale::cp {

struct GroupOrder {
  kernels::Positions positions;            // the group's tokens, in group order
  std::vector<std::vector<int64_t>> rows;  // rows[u][i]: group row of member u's token i

  int64_t size() const { return positions.size(); }
  int members() const { return static_cast<int>(rows.size()); }
  std::vector<int64_t> member_sizes() const;
};

GroupOrder group_order(std::span<const kernels::Positions> members);

// Explicit positions as greedy strided runs (a run continues while the step stays the same).
kernels::Positions compact_positions(std::span<const int64_t> positions);

}  // namespace attnscale::cp

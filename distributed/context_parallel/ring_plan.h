// RingPlan: what every step of a ring moves and computes, derived from the mask and the token
// positions of every rank (DESIGN.md 5: communication is derived from the mask, not hard-coded).
//
// At step s a rank r computes with the keys of owner o = r - s (mod P), "hop s" of o's keys.
//   needed(o, s)   rows of o's keys that rank o + s needs (judged by the mask's positional parts
//                  through kernels::needed_key_blocks, refined to single rows at range edges);
//   carried(o, s)  rows of o's keys that reach hop s: needed there or further on. These shrink
//                  with s, so a block travels only as far as its last consumer and sheds the rows
//                  nobody downstream needs; carried(o, 0) is the whole shard;
//   last_hop(o)    the last hop with a consumer (0: no other rank needs o's keys).
// Every rank builds the same plan, so both ends of a transfer agree on its size without talking.
#pragma once

#include <cstdint>
#include <vector>

#include "distributed/context_parallel/row_set.h"
#include "kernels/mask.h"

namespace attnscale::cp {

class RingPlan {
 public:
  // queries[r] / keys[r]: global positions of rank r's query and key tokens, in its local order.
  // block: granularity of the first, coarse pass over the keys.
  RingPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries,
           std::vector<kernels::Positions> keys, int64_t block = 64);

  int ranks() const { return ranks_; }
  const kernels::Positions& queries(int rank) const { return queries_[static_cast<size_t>(rank)]; }
  const kernels::Positions& keys(int rank) const { return keys_[static_cast<size_t>(rank)]; }
  int owner_at(int rank, int step) const { return ((rank - step) % ranks_ + ranks_) % ranks_; }

  const RowSet& needed(int owner, int hop) const { return needed_[index(owner, hop)]; }
  const RowSet& carried(int owner, int hop) const { return carried_[index(owner, hop)]; }
  int last_hop(int owner) const { return last_hop_[static_cast<size_t>(owner)]; }
  // Whether any rank receives anything at step `step` (else the step needs no transfer at all).
  bool step_moves_data(int step) const;

  // Key rows that rank `rank` sends in a forward pass (for bytes-vs-theory reports).
  int64_t rows_sent(int rank) const;

 private:
  size_t index(int owner, int hop) const {
    return static_cast<size_t>(owner) * static_cast<size_t>(ranks_) + static_cast<size_t>(hop);
  }

  int ranks_;
  std::vector<kernels::Positions> queries_, keys_;
  std::vector<RowSet> needed_, carried_;  // [owner][hop]
  std::vector<int> last_hop_;
};

// Rows of `keys` that may hold an allowed key for some query in `queries` (positional parts of the
// mask only): needed_key_blocks at `block` granularity, then each range's ends trimmed row by row.
RowSet needed_rows(const kernels::Mask& mask, const kernels::Positions& queries,
                   const kernels::Positions& keys, int64_t block);

}  // namespace attnscale::cp

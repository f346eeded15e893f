// FetchPlan: which key rows each rank fetches from each other rank, derived from the mask and the
// token positions of every rank (DESIGN.md 5: communication follows the mask). Halo exchange and
// block-sparse fetch both read it: a sliding window names the last `window` rows of the rank(s)
// before (and after, without causality); a block pattern names the key blocks its rows allow.
// Unlike the ring, every fetched row comes straight from its owner in one hop.
// Every rank builds the same plan, so both ends of a transfer agree on its size without talking.
// Where the rows depend on data (Luong local-p's predicted centres), the ranks first share the
// global key range each one needs and build the plan from those ranges.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/context_parallel/row_set.h"
#include "kernels/mask.h"

namespace attnscale::sp {

class FetchPlan {
 public:
  // queries[r] / keys[r]: global positions of rank r's query and key tokens, in its local order.
  // block: granularity of the coarse pass over the keys (cp::needed_rows trims the edges to rows).
  FetchPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries, std::vector<kernels::Positions> keys,
            int64_t block);
  // needed[r]: the global key positions [begin, end) rank r's queries reach (any layout: each
  // owner contributes its rows whose positions fall inside).
  FetchPlan(std::vector<kernels::Positions> queries, std::vector<kernels::Positions> keys,
            std::span<const cp::RowRange> needed);

  int ranks() const { return ranks_; }
  const kernels::Positions& queries(int rank) const { return queries_[static_cast<size_t>(rank)]; }
  const kernels::Positions& keys(int rank) const { return keys_[static_cast<size_t>(rank)]; }
  // Rows of owner's keys that consumer fetches (empty when consumer == owner: those are local).
  const cp::RowSet& rows(int consumer, int owner) const { return rows_[index(consumer, owner)]; }

  int64_t rows_received(int rank) const;  // key rows `rank` fetches from all others
  int64_t rows_sent(int rank) const;      // key rows of `rank` that others fetch

 private:
  size_t index(int consumer, int owner) const {
    return static_cast<size_t>(consumer) * static_cast<size_t>(ranks_) + static_cast<size_t>(owner);
  }

  int ranks_;
  std::vector<kernels::Positions> queries_, keys_;
  std::vector<cp::RowSet> rows_;  // [consumer][owner]
};

}  // namespace attnscale::sp

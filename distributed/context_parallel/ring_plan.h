// RingPlan: what every step of a ring moves and computes, derived from the mask and the token
// positions of every rank (DESIGN.md 5: communication is derived from the mask, not hard-coded).
//
// At step s a rank r computes with the keys of owner o = r - s (mod P), "hop s" of o's keys.
//   needed(o, s)   rows of o's keys that rank o + s needs (judged by the mask's positional parts
//                  through kernels::needed_key_blocks, refined to single rows at range edges, and
//                  by segment-id ranges when there are segments);
//   carried(o, s)  rows of o's keys that reach hop s: needed there or further on. These shrink
//                  with s, so a block travels only as far as its last consumer and sheds the rows
//                  nobody downstream needs; carried(o, 0) is the whole shard;
//   last_hop(o)    the last hop with a consumer (0: no other rank needs o's keys).
// Every rank builds the same plan, so both ends of a transfer agree on its size without talking.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/row_set.h"
#include "kernels/mask.h"

namespace attnscale::cp {

// Segment ids (packed documents) for the ring plan. The mask's per-token parts are data no rank
// has for the others' tokens, so each rank summarises its own: the range of segment ids of its
// queries per batch row, and of each block of `block` keys per batch row; one all-gather shares
// them. A key block whose ranges meet no range of a consumer's queries (in any batch row) is not
// needed there, so documents that end before a shard begins are neither sent nor computed.
// Ranges make this exact for sorted ids (packed documents) and conservative otherwise.
struct SegmentSummaries {
  int64_t batch = 1;
  int64_t block = 16;
  // Per rank: queries [B][lo, hi]; keys [key block][B][lo, hi]. lo > hi: no token.
  std::vector<std::vector<int32_t>> queries, keys;

  // Rows of `owner`'s keys (m of them) whose segments may meet a query of `consumer`.
  RowSet possible_rows(int consumer, int owner, int64_t m) const;
};

// This rank's summaries of q_segment [B, n] and k_segment [B, m], shared over `ring` (nullptr: one
// rank). key_counts[r]: how many keys rank r holds (every rank knows them from the layout).
SegmentSummaries gather_segment_summaries(Communicator* ring, std::span<const int32_t> q_segment,
                                          std::span<const int32_t> k_segment, int64_t batch,
                                          std::span<const int64_t> key_counts, int64_t block = 16);

class RingPlan {
 public:
  // queries[r] / keys[r]: global positions of rank r's query and key tokens, in its local order.
  // block: granularity of the first, coarse pass over the keys. segments: when the mask has
  // segment ids, every rank's summaries (above) prune what the positions allow.
  RingPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries,
           std::vector<kernels::Positions> keys, int64_t block = 64,
           const SegmentSummaries* segments = nullptr);

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

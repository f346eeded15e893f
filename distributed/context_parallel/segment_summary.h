// Segment ids (packed documents) for the ring plan. The mask's per-token parts are data no rank
// has for the others' tokens, so each rank summarises its own: the range of segment ids of its
// queries per batch row, and of each block of `block` keys per batch row; one all-gather shares
// them. A key block whose ranges meet no range of a consumer's queries (in any batch row) is not
// needed there, so documents that end before a shard begins are neither sent nor computed.
// Ranges make this exact for sorted ids (packed documents) and conservative otherwise.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/row_set.h"

namespace attnscale::cp {

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

}  // namespace attnscale::cp

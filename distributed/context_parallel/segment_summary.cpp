#include "distributed/context_parallel/segment_summary.h"

#include <algorithm>
#include <limits>

#include "base/error.h"

namespace attnscale::cp {
namespace {

constexpr int32_t no_lo = std::numeric_limits<int32_t>::max(), no_hi = std::numeric_limits<int32_t>::min();

// [lo, hi] of ids[begin, end) for every batch row of a [B, len] array, appended to out.
void append_ranges(std::span<const int32_t> ids, int64_t batch, int64_t len, int64_t begin, int64_t end,
                   std::vector<int32_t>& out) {
  for (int64_t b = 0; b < batch; ++b) {
    int32_t lo = no_lo, hi = no_hi;
    for (int64_t i = begin; i < end; ++i) {
      lo = std::min(lo, ids[static_cast<size_t>(b * len + i)]);
      hi = std::max(hi, ids[static_cast<size_t>(b * len + i)]);
    }
    out.push_back(lo);
    out.push_back(hi);
  }
}

int64_t blocks_of(int64_t rows, int64_t block) { return (rows + block - 1) / block; }

}  // namespace

RowSet SegmentSummaries::possible_rows(int consumer, int owner, int64_t m) const {
  const std::vector<int32_t>& q = queries[static_cast<size_t>(consumer)];
  const std::vector<int32_t>& k = keys[static_cast<size_t>(owner)];
  std::vector<RowRange> rows;
  for (int64_t kb = 0; kb < blocks_of(m, block); ++kb) {
    bool meets = false;
    for (int64_t b = 0; b < batch && !meets; ++b) {
      const size_t qi = static_cast<size_t>(2 * b), ki = static_cast<size_t>(2 * (kb * batch + b));
      meets = q[qi] <= k[ki + 1] && k[ki] <= q[qi + 1];  // empty ranges (lo > hi) never meet
    }
    if (meets) rows.push_back({kb * block, std::min(m, (kb + 1) * block)});
  }
  return RowSet(std::move(rows));
}

SegmentSummaries gather_segment_summaries(Communicator* ring, std::span<const int32_t> q_segment,
                                          std::span<const int32_t> k_segment, int64_t batch,
                                          std::span<const int64_t> key_counts, int64_t block) {
  ATTNSCALE_CHECK(batch >= 1 && block >= 1, "context_parallel", "segment summaries need batch ({}) and block ({}) >= 1",
                  batch, block);
  const int ranks = ring ? ring->size() : 1, rank = ring ? ring->rank() : 0;
  ATTNSCALE_CHECK(static_cast<int>(key_counts.size()) == ranks, "context_parallel",
                  "{} key counts for {} ranks", key_counts.size(), ranks);
  const int64_t n = static_cast<int64_t>(q_segment.size()) / batch, m = key_counts[static_cast<size_t>(rank)];
  ATTNSCALE_CHECK(static_cast<int64_t>(k_segment.size()) == batch * m, "context_parallel",
                  "k_segment holds {} ids, expected {} x {}", k_segment.size(), batch, m);
  std::vector<int32_t> mine;
  append_ranges(q_segment, batch, n, 0, n, mine);
  for (int64_t kb = 0; kb < blocks_of(m, block); ++kb)
    append_ranges(k_segment, batch, m, kb * block, std::min(m, (kb + 1) * block), mine);

  std::vector<size_t> counts;
  for (int r = 0; r < ranks; ++r)
    counts.push_back(static_cast<size_t>(2 * batch * (1 + blocks_of(key_counts[static_cast<size_t>(r)], block))));
  std::vector<int32_t> all = mine;
  if (ring) {
    all.resize(packed_displacements(counts).back() + counts.back());
    ring->all_gather_v(mine, all, counts);
  }
  SegmentSummaries s;
  s.batch = batch;
  s.block = block;
  auto from = all.begin();
  for (int r = 0; r < ranks; ++r) {
    const auto q_end = from + 2 * batch, end = from + static_cast<std::ptrdiff_t>(counts[static_cast<size_t>(r)]);
    s.queries.emplace_back(from, q_end);
    s.keys.emplace_back(q_end, end);
    from = end;
  }
  return s;
}

}  // namespace attnscale::cp

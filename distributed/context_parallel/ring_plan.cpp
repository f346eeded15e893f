#include "distributed/context_parallel/ring_plan.h"

#include <algorithm>
#include <limits>
#include <optional>

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

namespace {

bool has_positional_parts(const kernels::Mask& mask) {
  return mask.causal || mask.window.has_value() || mask.blocks != nullptr;
}

// The needed rows of keys[lo, hi) at single-row granularity, as [first, last] or nothing.
std::optional<std::pair<int64_t, int64_t>> needed_span(const kernels::Mask& mask,
                                                       const kernels::Positions& queries,
                                                       const kernels::Positions& keys, int64_t lo,
                                                       int64_t hi) {
  const kernels::Positions part = subset_positions(keys, RowSet({RowRange{lo, hi}}));
  const std::vector<int64_t> rows = kernels::needed_key_blocks(mask, queries, part, 1);
  if (rows.empty()) return std::nullopt;
  return std::pair{lo + rows.front(), lo + rows.back()};
}

}  // namespace

RowSet needed_rows(const kernels::Mask& mask, const kernels::Positions& queries,
                   const kernels::Positions& keys, int64_t block) {
  ATTNSCALE_CHECK(block >= 1, "context_parallel", "plan block size must be >= 1, got {}", block);
  const int64_t m = keys.size();
  if (queries.size() == 0 || m == 0) return {};
  if (!has_positional_parts(mask)) return RowSet::all(m);
  const std::vector<int64_t> blocks = kernels::needed_key_blocks(mask, queries, keys, block);
  std::vector<RowRange> ranges;
  for (size_t i = 0; i < blocks.size();) {
    size_t j = i;
    while (j + 1 < blocks.size() && blocks[j + 1] == blocks[j] + 1) ++j;
    int64_t begin = blocks[i] * block, end = std::min(m, (blocks[j] + 1) * block);
    // Trim the edge blocks row by row: a window needs its last `left` keys, not a whole block.
    if (const auto first = needed_span(mask, queries, keys, begin, std::min(end, begin + block)))
      begin = first->first;
    if (const auto last = needed_span(mask, queries, keys, std::max(begin, end - block), end))
      end = last->second + 1;
    if (begin < end) ranges.push_back({begin, end});
    i = j + 1;
  }
  return RowSet(std::move(ranges));
}

RingPlan::RingPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries,
                   std::vector<kernels::Positions> keys, int64_t block, const SegmentSummaries* segments)
    : ranks_(static_cast<int>(queries.size())), queries_(std::move(queries)), keys_(std::move(keys)) {
  ATTNSCALE_CHECK(ranks_ >= 1 && keys_.size() == queries_.size(), "context_parallel",
                  "a ring plan needs the positions of every rank: {} query sets, {} key sets", ranks_,
                  keys_.size());
  ATTNSCALE_CHECK(!segments || (segments->queries.size() == queries_.size() && segments->keys.size() == keys_.size()),
                  "context_parallel", "segment summaries for {} ranks, the plan has {}",
                  segments ? segments->queries.size() : 0, ranks_);
  const auto cells = static_cast<size_t>(ranks_) * static_cast<size_t>(ranks_);
  needed_.resize(cells);
  carried_.resize(cells);
  last_hop_.assign(static_cast<size_t>(ranks_), 0);
  for (int owner = 0; owner < ranks_; ++owner) {
    const kernels::Positions& own_keys = keys_[static_cast<size_t>(owner)];
    for (int hop = 1; hop < ranks_; ++hop) {
      const int consumer = (owner + hop) % ranks_;
      RowSet rows = needed_rows(mask, queries_[static_cast<size_t>(consumer)], own_keys, block);
      if (segments && !rows.empty())
        rows = set_intersection(rows, segments->possible_rows(consumer, owner, own_keys.size()));
      needed_[index(owner, hop)] = std::move(rows);
      if (!needed_[index(owner, hop)].empty()) last_hop_[static_cast<size_t>(owner)] = hop;
    }
    RowSet downstream;
    for (int hop = ranks_ - 1; hop >= 1; --hop) {
      downstream = set_union(downstream, needed_[index(owner, hop)]);
      carried_[index(owner, hop)] = downstream;
    }
    carried_[index(owner, 0)] = RowSet::all(own_keys.size());
  }
}

bool RingPlan::step_moves_data(int step) const {
  if (step < 1 || step >= ranks_) return false;
  for (int owner = 0; owner < ranks_; ++owner)
    if (!carried(owner, step).empty()) return true;
  return false;
}

int64_t RingPlan::rows_sent(int rank) const {
  int64_t rows = 0;
  for (int step = 0; step + 1 < ranks_; ++step) rows += carried(owner_at(rank, step), step + 1).size();
  return rows;
}

}  // namespace attnscale::cp

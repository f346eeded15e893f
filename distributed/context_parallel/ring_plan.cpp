#include "distributed/context_parallel/ring_plan.h"

#include "base/error.h"

namespace attnscale::cp {
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
                   std::vector<kernels::Positions> keys, int64_t block)
    : ranks_(static_cast<int>(queries.size())), queries_(std::move(queries)), keys_(std::move(keys)) {
  ATTNSCALE_CHECK(ranks_ >= 1 && keys_.size() == queries_.size(), "context_parallel",
                  "a ring plan needs the positions of every rank: {} query sets, {} key sets", ranks_,
                  keys_.size());
  const auto cells = static_cast<size_t>(ranks_) * static_cast<size_t>(ranks_);
  needed_.resize(cells);
  carried_.resize(cells);
  last_hop_.assign(static_cast<size_t>(ranks_), 0);
  for (int owner = 0; owner < ranks_; ++owner) {
    const kernels::Positions& own_keys = keys_[static_cast<size_t>(owner)];
    for (int hop = 1; hop < ranks_; ++hop) {
      const int consumer = (owner + hop) % ranks_;
      needed_[index(owner, hop)] = needed_rows(mask, queries_[static_cast<size_t>(consumer)], own_keys, block);
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

#include "distributed/context_parallel/fetch_plan.h"

#include <algorithm>

#include "base/error.h"
#include "distributed/context_parallel/ring_plan.h"

namespace attnscale::sp {

FetchPlan::FetchPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries,
                     std::vector<kernels::Positions> keys, int64_t block)
    : ranks_(static_cast<int>(queries.size())), queries_(std::move(queries)), keys_(std::move(keys)) {
  ATTNSCALE_CHECK(ranks_ >= 1 && keys_.size() == queries_.size(), "sequence_parallel",
                  "a fetch plan needs the positions of every rank: {} query sets, {} key sets", ranks_, keys_.size());
  rows_.resize(static_cast<size_t>(ranks_) * static_cast<size_t>(ranks_));
  for (int consumer = 0; consumer < ranks_; ++consumer)
    for (int owner = 0; owner < ranks_; ++owner)
      if (owner != consumer)
        rows_[index(consumer, owner)] =
            cp::needed_rows(mask, queries_[static_cast<size_t>(consumer)], keys_[static_cast<size_t>(owner)], block);
}

namespace {

// Local rows of `keys` whose global positions lie in [needed.begin, needed.end): within a strided
// run positions increase with the local index, so each run contributes one range.
cp::RowSet rows_in_range(const kernels::Positions& keys, const cp::RowRange& needed) {
  std::vector<cp::RowRange> rows;
  int64_t run_begin = 0;
  const auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  for (const kernels::StridedRun& run : keys.runs()) {
    const int64_t first = std::clamp<int64_t>(ceil_div(needed.begin - run.start, run.stride), 0, run.count);
    const int64_t end = std::clamp<int64_t>(ceil_div(needed.end - run.start, run.stride), 0, run.count);
    if (first < end) rows.push_back({run_begin + first, run_begin + end});
    run_begin += run.count;
  }
  return cp::RowSet(std::move(rows));
}

}  // namespace

FetchPlan::FetchPlan(std::vector<kernels::Positions> queries, std::vector<kernels::Positions> keys,
                     std::span<const cp::RowRange> needed)
    : ranks_(static_cast<int>(queries.size())), queries_(std::move(queries)), keys_(std::move(keys)) {
  ATTNSCALE_CHECK(ranks_ >= 1 && keys_.size() == queries_.size() && needed.size() == queries_.size(),
                  "sequence_parallel",
                  "a fetch plan needs every rank's positions and key range: {} query sets, {} "
                  "key sets, {} ranges",
                  ranks_, keys_.size(), needed.size());
  rows_.resize(static_cast<size_t>(ranks_) * static_cast<size_t>(ranks_));
  for (int consumer = 0; consumer < ranks_; ++consumer)
    for (int owner = 0; owner < ranks_; ++owner)
      if (owner != consumer)
        rows_[index(consumer, owner)] =
            rows_in_range(keys_[static_cast<size_t>(owner)], needed[static_cast<size_t>(consumer)]);
}

int64_t FetchPlan::rows_received(int rank) const {
  int64_t total = 0;
  for (int owner = 0; owner < ranks_; ++owner) total += rows(rank, owner).size();
  return total;
}

int64_t FetchPlan::rows_sent(int rank) const {
  int64_t total = 0;
  for (int consumer = 0; consumer < ranks_; ++consumer) total += rows(consumer, rank).size();
  return total;
}

}  // namespace attnscale::sp

#include "distributed/context_parallel/row_set.h"

#include <algorithm>

#include "base/error.h"

namespace attnscale::cp {

RowSet::RowSet(std::vector<RowRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const RowRange& a, const RowRange& b) { return a.begin < b.begin; });
  for (const RowRange& r : ranges) {
    ATTNSCALE_CHECK(r.begin >= 0 && r.begin <= r.end, "context_parallel",
                    "row range [{}, {}) is invalid", r.begin, r.end);
    if (r.size() == 0) continue;
    if (!ranges_.empty() && r.begin <= ranges_.back().end) {
      ranges_.back().end = std::max(ranges_.back().end, r.end);
    } else {
      ranges_.push_back(r);
    }
  }
  for (const RowRange& r : ranges_) {
    packed_begin_.push_back(size_);
    size_ += r.size();
  }
}

int64_t RowSet::packed_index(int64_t row) const {
  const auto it = std::upper_bound(ranges_.begin(), ranges_.end(), row,
                                   [](int64_t x, const RowRange& r) { return x < r.begin; });
  ATTNSCALE_CHECK(it != ranges_.begin() && row < std::prev(it)->end, "context_parallel",
                  "row {} is not in the row set", row);
  const auto i = static_cast<size_t>(std::prev(it) - ranges_.begin());
  return packed_begin_[i] + (row - ranges_[i].begin);
}

bool RowSet::contains(const RowSet& other) const {
  return set_difference(other, *this).empty();
}

RowSet set_union(const RowSet& a, const RowSet& b) {
  std::vector<RowRange> all(a.ranges_);
  all.insert(all.end(), b.ranges_.begin(), b.ranges_.end());
  return RowSet(std::move(all));
}

RowSet set_difference(const RowSet& a, const RowSet& b) {
  std::vector<RowRange> out;
  size_t j = 0;
  for (RowRange r : a.ranges_) {
    while (j < b.ranges_.size() && b.ranges_[j].end <= r.begin) ++j;
    for (size_t k = j; k < b.ranges_.size() && b.ranges_[k].begin < r.end; ++k) {
      if (b.ranges_[k].begin > r.begin) out.push_back({r.begin, b.ranges_[k].begin});
      r.begin = std::max(r.begin, b.ranges_[k].end);
    }
    if (r.begin < r.end) out.push_back(r);
  }
  return RowSet(std::move(out));
}

kernels::Positions subset_positions(const kernels::Positions& all, const RowSet& rows) {
  std::vector<kernels::StridedRun> runs;
  int64_t run_begin = 0;  // local index of the current run's first token
  auto run = all.runs().begin();
  for (const RowRange& r : rows.ranges()) {
    ATTNSCALE_CHECK(r.end <= all.size(), "context_parallel", "rows [{}, {}) exceed the {} tokens",
                    r.begin, r.end, all.size());
    int64_t row = r.begin;
    while (row < r.end) {
      while (row >= run_begin + run->count) run_begin += (run++)->count;
      const int64_t count = std::min(r.end, run_begin + run->count) - row;
      runs.push_back({run->start + (row - run_begin) * run->stride, count, run->stride});
      row += count;
    }
  }
  return kernels::Positions(std::move(runs));
}

}  // namespace attnscale::cp

// RowSet: which local token rows of one shard a ring step moves, as sorted, disjoint, non-adjacent
// ranges of local indices. A block travelling the ring is packed in RowSet order, so a RowSet
// is both "which rows" and "where each row sits in the packed buffer".
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/layout.h"

namespace attnscale::cp {

struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t size() const { return end - begin; }
  bool operator==(const RowRange&) const = default;
};

class RowSet {
 public:
  RowSet() = default;
  // Ranges in any order, possibly overlapping or touching: they are sorted and merged.
  explicit RowSet(std::vector<RowRange> ranges);
  static RowSet all(int64_t rows) { return RowSet({RowRange{0, rows}}); }

  std::span<const RowRange> ranges() const { return ranges_; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool operator==(const RowSet& other) const { return ranges_ == other.ranges_; }

  // Where local row `row` (a member) sits in the packed order.
  int64_t packed_index(int64_t row) const;
  bool contains(const RowSet& other) const;

  friend RowSet set_union(const RowSet& a, const RowSet& b);
  friend RowSet set_difference(const RowSet& a, const RowSet& b);  // a without b

 private:
  std::vector<RowRange> ranges_;
  std::vector<int64_t> packed_begin_;  // packed index of each range's first row
  int64_t size_ = 0;
};

// The global positions of the rows of `rows`, in packed order.
kernels::Positions subset_positions(const kernels::Positions& all, const RowSet& rows);

}  // namespace attnscale::cp

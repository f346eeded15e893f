// RowSet: which local token rows of one shard a ring step moves, as sorted, disjoint, non-adjacent
// ranges of local indices. A block travelling the ring is packed in RowSet order, so a RowSet
// is both "which rows" and "where each row sits in the packed buffer".
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.h"
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
  friend RowSet set_intersection(const RowSet& a, const RowSet& b) { return set_difference(a, set_difference(a, b)); }

 private:
  std::vector<RowRange> ranges_;
  std::vector<int64_t> packed_begin_;  // packed index of each range's first row
  int64_t size_ = 0;
};

// The global positions of the rows of `rows`, in packed order.
kernels::Positions subset_positions(const kernels::Positions& all, const RowSet& rows);

// Copies between arrays shaped [outer, rows, width] whose middle axis is packed by a RowSet
// (K and V are [B * kv_heads, rows, D]; segment ids [B, rows, 1]). Used to shed rows from a block
// before it travels on, and to put returned gradient rows back into a shard.
namespace detail {

// Calls fn(sub_offset, super_offset, count) for every range of `sub`, a subset of `super`, with
// offsets in packed rows.
template <typename Fn>
void for_each_subset_range(const RowSet& sub, const RowSet& super, Fn&& fn) {
  int64_t sub_offset = 0;
  for (const RowRange& r : sub.ranges()) {
    const int64_t super_offset = super.packed_index(r.begin);
    // super's ranges are maximal, so a range of a subset lies inside one of them.
    ATTNSCALE_CHECK(super.packed_index(r.end - 1) == super_offset + r.size() - 1, "context_parallel",
                    "rows [{}, {}) are not all in the packed block", r.begin, r.end);
    fn(sub_offset, super_offset, r.size());
    sub_offset += r.size();
  }
}

inline void check_extent(std::size_t got, int64_t outer, const RowSet& rows, int64_t width,
                         const char* what) {
  ATTNSCALE_CHECK(static_cast<int64_t>(got) == outer * rows.size() * width, "context_parallel",
                  "{} holds {} elements, expected {} x {} rows x {}", what, got, outer, rows.size(),
                  width);
}

}  // namespace detail

// dst (packed by dst_rows) = the dst_rows of src (packed by src_rows); dst_rows within src_rows.
template <typename T>
void gather_rows(std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                 const RowSet& dst_rows, int64_t outer, int64_t width) {
  detail::check_extent(src.size(), outer, src_rows, width, "gather source");
  detail::check_extent(dst.size(), outer, dst_rows, width, "gather destination");
  for (int64_t o = 0; o < outer; ++o) {
    const T* from = src.data() + o * src_rows.size() * width;
    T* to = dst.data() + o * dst_rows.size() * width;
    detail::for_each_subset_range(dst_rows, src_rows, [&](int64_t sub, int64_t super, int64_t count) {
      std::copy_n(from + super * width, count * width, to + sub * width);
    });
  }
}

// The src_rows of dst (packed by dst_rows) = src, or += src when `add`; src_rows within dst_rows.
template <typename T>
void scatter_rows(std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                  const RowSet& dst_rows, int64_t outer, int64_t width, bool add) {
  detail::check_extent(src.size(), outer, src_rows, width, "scatter source");
  detail::check_extent(dst.size(), outer, dst_rows, width, "scatter destination");
  for (int64_t o = 0; o < outer; ++o) {
    const T* from = src.data() + o * src_rows.size() * width;
    T* to = dst.data() + o * dst_rows.size() * width;
    detail::for_each_subset_range(src_rows, dst_rows, [&](int64_t sub, int64_t super, int64_t count) {
      const T* s = from + sub * width;
      T* d = to + super * width;
      if (add) {
        for (int64_t x = 0; x < count * width; ++x) d[x] += s[x];
      } else {
        std::copy_n(s, count * width, d);
      }
    });
  }
}

}  // namespace attnscale::cp

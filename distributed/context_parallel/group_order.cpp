#include "distributed/context_parallel/group_order.h"

#include <algorithm>
#include <numeric>

namespace attnscale::cp {

std::vector<int64_t> GroupOrder::member_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& r : rows) sizes.push_back(static_cast<int64_t>(r.size()));
  return sizes;
}

kernels::Positions compact_positions(std::span<const int64_t> positions) {
  std::vector<kernels::StridedRun> runs;
  for (const int64_t p : positions) {
    if (!runs.empty()) {
      kernels::StridedRun& run = runs.back();
      if (run.count == 1 && p > run.start) {
        run.stride = p - run.start;
        run.count = 2;
        continue;
      }
      if (run.count > 1 && p == run.last() + run.stride) {
        ++run.count;
        continue;
      }
    }
    runs.push_back({p, 1, 1});
  }
  return kernels::Positions(std::move(runs));
}

GroupOrder group_order(std::span<const kernels::Positions> members) {
  GroupOrder order;
  std::vector<int64_t> concatenated;
  for (const kernels::Positions& m : members) {
    std::vector<int64_t> global(static_cast<size_t>(m.size()));
    m.fill(global);
    std::vector<int64_t> rows(global.size());
    std::iota(rows.begin(), rows.end(), static_cast<int64_t>(concatenated.size()));
    concatenated.insert(concatenated.end(), global.begin(), global.end());
    order.rows.push_back(std::move(rows));
  }
  order.positions = compact_positions(concatenated);
  if (members.size() <= 1) return order;

  // Sorted by position: row i of the sorted order holds concatenated token by_position[i].
  std::vector<int64_t> by_position(concatenated.size());
  std::iota(by_position.begin(), by_position.end(), int64_t{0});
  std::sort(by_position.begin(), by_position.end(),
            [&](int64_t a, int64_t b) { return concatenated[static_cast<size_t>(a)] < concatenated[static_cast<size_t>(b)]; });
  std::vector<int64_t> sorted(concatenated.size());
  for (size_t i = 0; i < sorted.size(); ++i) sorted[i] = concatenated[static_cast<size_t>(by_position[i])];
  kernels::Positions sorted_positions = compact_positions(sorted);
  if (sorted_positions.runs().size() >= order.positions.runs().size()) return order;

  std::vector<int64_t> row_of(concatenated.size());
  for (size_t i = 0; i < by_position.size(); ++i) row_of[static_cast<size_t>(by_position[i])] = static_cast<int64_t>(i);
  for (auto& rows : order.rows)
    for (int64_t& r : rows) r = row_of[static_cast<size_t>(r)];
  order.positions = std::move(sorted_positions);
  return order;
}

}  // namespace attnscale::cp

// Window hulls and the local-attention fetch plan (see local_halo_plan.h).
#include "distributed/context_parallel/local_halo_plan.h"

#include <algorithm>
#include <limits>

#include "base/error.h"

namespace attnscale::sp {

template <typename T>
std::vector<WindowBounds> monotonic_windows(const kernels::Positions& queries, int64_t half_width,
                                            std::span<const int64_t> lengths) {
  std::vector<int64_t> positions(static_cast<size_t>(queries.size()));
  queries.fill(positions);
  std::vector<WindowBounds> windows;
  windows.reserve(lengths.size() * positions.size());
  for (const int64_t length : lengths)
    for (const int64_t t : positions)
      windows.push_back(window_bounds(static_cast<T>(monotonic_centre(t, length)), half_width, length));
  return windows;
}

template <typename T>
std::vector<WindowBounds> predictive_windows(std::span<const T> centres, int64_t half_width,
                                             std::span<const int64_t> lengths) {
  const size_t count = lengths.empty() ? 0 : centres.size() / lengths.size();
  std::vector<WindowBounds> windows;
  windows.reserve(centres.size());
  for (size_t i = 0; i < centres.size(); ++i)
    windows.push_back(window_bounds(centres[i], half_width, lengths[i / count]));
  return windows;
}

cp::RowRange window_hull(std::span<const WindowBounds> windows) {
  int64_t first = std::numeric_limits<int64_t>::max(), last = std::numeric_limits<int64_t>::min();
  for (const WindowBounds& w : windows) {
    if (w.empty()) continue;
    first = std::min(first, w.first);
    last = std::max(last, w.last);
  }
  return first > last ? cp::RowRange{} : cp::RowRange{first, last + 1};
}

std::vector<cp::RowRange> monotonic_hulls(const kernels::Layout& queries, int64_t half_width,
                                          std::span<const int64_t> lengths) {
  std::vector<cp::RowRange> hulls;
  for (int r = 0; r < queries.ranks; ++r) {
    const kernels::Positions mine = queries.positions(r);
    if (mine.size() == 0) {
      hulls.push_back({});
      continue;
    }
    const auto [t_first, t_last] = mine.range(0, mine.size());
    // Exact in any T: integer centres and half-width.
    std::vector<WindowBounds> ends;
    for (const int64_t length : lengths)
      for (const int64_t t : {t_first, t_last})
        ends.push_back(window_bounds(static_cast<double>(monotonic_centre(t, length)), half_width, length));
    hulls.push_back(window_hull(ends));
  }
  return hulls;
}

std::vector<cp::RowRange> gather_hulls(Communicator& comm, const cp::RowRange& mine) {
  const std::vector<int64_t> send{mine.begin, mine.end};
  std::vector<int64_t> all(2 * static_cast<size_t>(comm.size()));
  comm.all_gather(send, all);
  std::vector<cp::RowRange> hulls;
  for (size_t r = 0; r < all.size(); r += 2) hulls.push_back({all[r], all[r + 1]});
  return hulls;
}

FetchPlan local_fetch_plan(const kernels::Layout& queries, const kernels::Layout& sources,
                           std::span<const cp::RowRange> hulls) {
  std::vector<kernels::Positions> query_positions, source_positions;
  for (int r = 0; r < queries.ranks; ++r) {
    query_positions.push_back(queries.positions(r));
    source_positions.push_back(sources.positions(r));
  }
  return FetchPlan(std::move(query_positions), std::move(source_positions), hulls);
}

template std::vector<WindowBounds> monotonic_windows<float>(const kernels::Positions&, int64_t,
                                                            std::span<const int64_t>);
template std::vector<WindowBounds> monotonic_windows<double>(const kernels::Positions&, int64_t,
                                                             std::span<const int64_t>);
template std::vector<WindowBounds> predictive_windows<float>(std::span<const float>, int64_t, std::span<const int64_t>);
template std::vector<WindowBounds> predictive_windows<double>(std::span<const double>, int64_t,
                                                              std::span<const int64_t>);

}  // namespace attnscale::sp

// Which source rows Luong local attention's windows reach on each rank, and the FetchPlan that
// moves them (local_halo.h). Each rank needs one global range, the hull of its queries' windows:
//   local-m  centres are the query positions (clamped to each source's last position), so every
//            rank derives every rank's hull from the layouts alone: no communication;
//   local-p  centres are data, so each rank computes its own hull and one all-gather of two
//            integers per rank shares them.
// Internal to distributed/context_parallel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/fetch_plan.h"
#include "distributed/context_parallel/local_window.h"
#include "kernels/layout.h"

namespace attnscale::sp {

// Windows [B, n] of the queries at `queries` (local-m). lengths: S_b per sequence.
template <typename T>
std::vector<WindowBounds> monotonic_windows(const kernels::Positions& queries, int64_t half_width,
                                            std::span<const int64_t> lengths);
// Windows [B, n] of centres [B, n] (local-p).
template <typename T>
std::vector<WindowBounds> predictive_windows(std::span<const T> centres, int64_t half_width,
                                             std::span<const int64_t> lengths);

// Global source positions [begin, end) covering every window (empty range for no windows).
cp::RowRange window_hull(std::span<const WindowBounds> windows);

// Local-m: every rank's hull, computed on each rank without communication (the hull of a set of
// queries is the first window's start to the last window's end: windows move right with t).
std::vector<cp::RowRange> monotonic_hulls(const kernels::Layout& queries, int64_t half_width,
                                          std::span<const int64_t> lengths);
// Local-p: every rank's hull, from each rank's own (one all-gather).
std::vector<cp::RowRange> gather_hulls(Communicator& comm, const cp::RowRange& mine);

// The plan fetching hulls[r] for each rank r.
FetchPlan local_fetch_plan(const kernels::Layout& queries, const kernels::Layout& sources,
                           std::span<const cp::RowRange> hulls);

}  // namespace attnscale::sp

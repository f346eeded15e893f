// Forward and backward of sequence-parallel local attention on raw buffers (the autograd op is
// local_halo.h): the fetch of the halo rows is posted first, the queries whose windows lie inside
// this rank's own source rows compute while it travels (driving MPI between blocks of queries,
// DESIGN.md 9), then the queries at the shard edges. The backward computes the edge queries
// first, posts the fetched rows' dK/dV home, computes the interior while they travel and adds what
// comes back. Queries go in blocks of consecutive queries (local_window.h); sequences run in
// parallel over OpenMP threads.
// Internal to distributed/context_parallel.
#pragma once

#include <cstdint>
#include <span>

#include "distributed/context_parallel/fetch_exchange.h"
#include "distributed/context_parallel/local_window.h"

namespace attnscale::sp {

// This rank's side of the op. plan / comm are null on one rank (nothing to fetch).
template <typename T>
struct LocalHaloInputs {
  Communicator* comm = nullptr;
  const FetchPlan* plan = nullptr;
  LocalQueries<T> queries;
  int64_t source_begin = 0, source_rows = 0;  // this rank's source rows: global positions
  std::span<const T> keys, values;            // [B, source_rows, Dk], [B, source_rows, Dv]
};

// out [B, n, Dv]; `fetched` keeps the halo rows for the backward.
template <typename T>
void local_halo_forward(const LocalHaloInputs<T>& in, FetchedBlocks<T>& fetched, std::span<T> out);

// dq [B, n, Dk], dk, dv (this rank's source rows) and dcentres [B, n] (local-p; empty for
// local-m) are overwritten.
template <typename T>
void local_halo_backward(const LocalHaloInputs<T>& in, const FetchedBlocks<T>& fetched, std::span<const T> dout,
                         std::span<T> dq, std::span<T> dk, std::span<T> dv, std::span<T> dcentres);

}  // namespace attnscale::sp

// Moving the rows a FetchPlan names: keys (with their per-token mask parts) from their owners to
// the ranks that need them, and the gradients of those rows back to their owners.
//   point_to_point: one isendrecv per rank offset s (send to r + s, receive from r - s), posted
//                   and left in flight so the caller computes while they travel (halo exchange);
//   all_to_all:     one all_to_all_v of the packed K and V rows (and one of the per-token ints
//                   when they exist): exactly the named rows, in one collective (block fetch).
// Internal to distributed/context_parallel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/context_parallel/kv_block.h"
#include "distributed/context_parallel/fetch_plan.h"

namespace attnscale::sp {

enum class Transport { point_to_point, all_to_all };

// Per owner rank: the rows this rank fetched from it (packed by plan.rows(rank, owner)).
template <typename T>
using FetchedBlocks = std::vector<cp::KvBuffer<T>>;

// Transfers still in flight, per source rank (point_to_point), plus the send-side staging buffers
// they read from. Waiting for one source lets the caller compute with its block while the others
// still travel.
template <typename T>
struct InFlight {
  std::vector<std::vector<Request>> from;  // [source rank]
  std::vector<cp::KvBuffer<T>> staged;     // [destination rank]: packed rows being sent
  void wait(int source) { Request::wait_all(from[static_cast<size_t>(source)]); }
  void wait_all() {
    for (auto& r : from) Request::wait_all(r);
  }
};

// Starts (point_to_point) or completes (all_to_all) fetching into `fetched` (resized per owner).
// `own` holds this rank's whole shard.
template <typename T>
void fetch_keys(Communicator& comm, const FetchPlan& plan, Transport transport, const cp::KvView<T>& own,
                const cp::KvDims& dims, FetchedBlocks<T>& fetched, InFlight<T>& in_flight);

// Sends grads[owner] = (dK, dV) of the rows fetched from owner back to it and adds the gradients
// other ranks computed for this rank's rows into dk, dv ([outer, k_len, D] / [..., Dv]).
// point_to_point: posts the transfers; call finish_return_grads after computing meanwhile.
template <typename T>
struct GradReturn {
  std::vector<std::vector<T>> dk, dv;            // [owner]: gradients of the rows fetched from owner
  std::vector<std::vector<T>> recv_dk, recv_dv;  // [consumer]: gradients coming home
  std::vector<Request> in_flight;
};

template <typename T>
void start_return_grads(Communicator& comm, const FetchPlan& plan, Transport transport, const cp::KvDims& dims,
                        GradReturn<T>& grads);
template <typename T>
void finish_return_grads(Communicator& comm, const FetchPlan& plan, const cp::KvDims& dims, int64_t k_len,
                         GradReturn<T>& grads, std::span<T> dk, std::span<T> dv);

}  // namespace attnscale::sp

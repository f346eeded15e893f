#include "distributed/context_parallel/fetch_exchange.h"

#include <algorithm>
#include <numeric>

#include "distributed/context_parallel/row_set.h"

namespace attnscale::sp {
namespace {

constexpr int kv_tag_base = 0;          // + 4 * offset .. + 4 * offset + 3 (K, V, segments, valid)
constexpr int grad_tag_base = 1 << 14;  // + 2 * offset, + 2 * offset + 1 (dK, dV)

size_t at(int rank) { return static_cast<size_t>(rank); }

int64_t ints_per_row(const cp::KvDims& dims) { return dims.batch * ((dims.segments ? 1 : 0) + (dims.valid ? 1 : 0)); }

template <typename T>
void fetch_all_to_all(Communicator& comm, const FetchPlan& plan, const cp::KvView<T>& own, const cp::KvDims& dims,
                      FetchedBlocks<T>& fetched, std::vector<cp::KvBuffer<T>>& staged) {
  const int rank = comm.rank(), ranks = comm.size();
  const int64_t width = dims.outer() * (dims.head_dim + dims.value_dim), ints = ints_per_row(dims);
  std::vector<size_t> send_counts(at(ranks), 0), recv_counts(at(ranks), 0);
  std::vector<size_t> send_ints(at(ranks), 0), recv_ints(at(ranks), 0);
  for (int r = 0; r < ranks; ++r) {
    send_counts[at(r)] = static_cast<size_t>(plan.rows(r, rank).size() * width);
    recv_counts[at(r)] = static_cast<size_t>(plan.rows(rank, r).size() * width);
    send_ints[at(r)] = static_cast<size_t>(plan.rows(r, rank).size() * ints);
    recv_ints[at(r)] = static_cast<size_t>(plan.rows(rank, r).size() * ints);
  }
  // Block for rank r: its K rows, then V rows; ints: segments, then key padding.
  std::vector<T> send(std::accumulate(send_counts.begin(), send_counts.end(), size_t{0}));
  std::vector<int32_t> send_int(std::accumulate(send_ints.begin(), send_ints.end(), size_t{0}));
  const cp::RowSet all = cp::RowSet::all(plan.keys(rank).size());
  size_t offset = 0, int_offset = 0;
  for (int r = 0; r < ranks; ++r) {
    if (send_counts[at(r)] == 0) continue;
    cp::KvBuffer<T>& block = staged[at(r)];
    cp::gather_kv(own, all, block, plan.rows(r, rank), dims);
    offset = static_cast<size_t>(
        std::copy(block.k().begin(), block.k().end(), send.begin() + static_cast<std::ptrdiff_t>(offset)) -
        send.begin());
    offset = static_cast<size_t>(
        std::copy(block.v().begin(), block.v().end(), send.begin() + static_cast<std::ptrdiff_t>(offset)) -
        send.begin());
    auto out = send_int.begin() + static_cast<std::ptrdiff_t>(int_offset);
    out = std::copy(block.segment().begin(), block.segment().end(), out);
    out = std::copy(block.valid().begin(), block.valid().end(), out);
    int_offset = static_cast<size_t>(out - send_int.begin());
  }
  std::vector<T> recv(std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0}));
  comm.all_to_all_v(send, send_counts, recv, recv_counts);
  std::vector<int32_t> recv_int(std::accumulate(recv_ints.begin(), recv_ints.end(), size_t{0}));
  if (ints > 0) comm.all_to_all_v(send_int, send_ints, recv_int, recv_ints);
  offset = int_offset = 0;
  for (int r = 0; r < ranks; ++r) {
    cp::KvBuffer<T>& block = fetched[at(r)];
    const auto take = [&](auto dst, auto& src, size_t& from) {
      std::copy_n(src.begin() + static_cast<std::ptrdiff_t>(from), dst.size(), dst.begin());
      from += dst.size();
    };
    take(block.k(), recv, offset);
    take(block.v(), recv, offset);
    take(block.segment(), recv_int, int_offset);
    take(block.valid(), recv_int, int_offset);
  }
}

}  // namespace

template <typename T>
void fetch_keys(Communicator& comm, const FetchPlan& plan, Transport transport, const cp::KvView<T>& own,
                const cp::KvDims& dims, FetchedBlocks<T>& fetched, InFlight<T>& in_flight) {
  const int rank = comm.rank(), ranks = comm.size();
  ATTNSCALE_CHECK(plan.ranks() == ranks, "sequence_parallel", "the fetch plan is for {} ranks, the group has {}",
                  plan.ranks(), ranks);
  fetched.clear();  // fresh (host) blocks: KvBuffer moves, never copies
  fetched.resize(at(ranks));
  for (int owner = 0; owner < ranks; ++owner) fetched[at(owner)].resize(dims, plan.rows(rank, owner).size());
  in_flight.from.clear();  // Requests move, never copy
  in_flight.from.resize(at(ranks));
  in_flight.staged.clear();
  in_flight.staged.resize(at(ranks));
  if (transport == Transport::all_to_all) {
    fetch_all_to_all(comm, plan, own, dims, fetched, in_flight.staged);
    return;
  }
  const cp::RowSet all = cp::RowSet::all(plan.keys(rank).size());
  for (int offset = 1; offset < ranks; ++offset) {
    const int dest = (rank + offset) % ranks, source = (rank - offset + ranks) % ranks;
    cp::KvView<T> send;
    if (!plan.rows(dest, rank).empty()) {
      cp::gather_kv(own, all, in_flight.staged[at(dest)], plan.rows(dest, rank), dims);
      send = in_flight.staged[at(dest)].view();
    }
    cp::exchange_kv(comm, send, dest, fetched[at(source)], source, kv_tag_base + 4 * offset,
                    in_flight.from[at(source)]);
  }
}

template <typename T>
void start_return_grads(Communicator& comm, const FetchPlan& plan, Transport transport, const cp::KvDims& dims,
                        GradReturn<T>& grads) {
  const int rank = comm.rank(), ranks = comm.size();
  grads.recv_dk.assign(at(ranks), {});
  grads.recv_dv.assign(at(ranks), {});
  for (int consumer = 0; consumer < ranks; ++consumer) {
    const int64_t rows = plan.rows(consumer, rank).size();
    grads.recv_dk[at(consumer)].resize(static_cast<size_t>(dims.outer() * rows * dims.head_dim));
    grads.recv_dv[at(consumer)].resize(static_cast<size_t>(dims.outer() * rows * dims.value_dim));
  }
  if (transport == Transport::point_to_point) {
    for (int offset = 1; offset < ranks; ++offset) {
      const int owner = (rank - offset + ranks) % ranks, consumer = (rank + offset) % ranks;
      const int tag = grad_tag_base + 2 * offset;
      grads.in_flight.push_back(
          cp::ring_transfer<T>(comm, grads.dk[at(owner)], owner, grads.recv_dk[at(consumer)], consumer, tag));
      grads.in_flight.push_back(
          cp::ring_transfer<T>(comm, grads.dv[at(owner)], owner, grads.recv_dv[at(consumer)], consumer, tag + 1));
    }
    return;
  }
  // all_to_all: block for rank r is dK then dV of the rows fetched from r.
  std::vector<size_t> send_counts(at(ranks)), recv_counts(at(ranks));
  std::vector<T> send;
  for (int r = 0; r < ranks; ++r) {
    send_counts[at(r)] = grads.dk[at(r)].size() + grads.dv[at(r)].size();
    recv_counts[at(r)] = grads.recv_dk[at(r)].size() + grads.recv_dv[at(r)].size();
    send.insert(send.end(), grads.dk[at(r)].begin(), grads.dk[at(r)].end());
    send.insert(send.end(), grads.dv[at(r)].begin(), grads.dv[at(r)].end());
  }
  std::vector<T> recv(std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0}));
  comm.all_to_all_v(send, send_counts, recv, recv_counts);
  auto from = recv.begin();
  for (int r = 0; r < ranks; ++r) {
    auto& dk = grads.recv_dk[at(r)];
    auto& dv = grads.recv_dv[at(r)];
    std::copy_n(from, dk.size(), dk.begin());
    from += static_cast<std::ptrdiff_t>(dk.size());
    std::copy_n(from, dv.size(), dv.begin());
    from += static_cast<std::ptrdiff_t>(dv.size());
  }
}

template <typename T>
void finish_return_grads(Communicator& comm, const FetchPlan& plan, const cp::KvDims& dims, int64_t k_len,
                         GradReturn<T>& grads, std::span<T> dk, std::span<T> dv) {
  Request::wait_all(grads.in_flight);
  grads.in_flight.clear();
  const int rank = comm.rank();
  const cp::RowSet all = cp::RowSet::all(k_len);
  for (int consumer = 0; consumer < comm.size(); ++consumer) {
    const cp::RowSet& rows = plan.rows(consumer, rank);
    if (rows.empty()) continue;
    cp::scatter_rows<T>(grads.recv_dk[at(consumer)], rows, dk, all, dims.outer(), dims.head_dim, true);
    cp::scatter_rows<T>(grads.recv_dv[at(consumer)], rows, dv, all, dims.outer(), dims.value_dim, true);
  }
}

#define ATTNSCALE_INSTANTIATE(T)                                                                                      \
  template void fetch_keys<T>(Communicator&, const FetchPlan&, Transport, const cp::KvView<T>&, const cp::KvDims&,    \
                              FetchedBlocks<T>&, InFlight<T>&);                                                       \
  template void start_return_grads<T>(Communicator&, const FetchPlan&, Transport, const cp::KvDims&, GradReturn<T>&); \
  template void finish_return_grads<T>(Communicator&, const FetchPlan&, const cp::KvDims&, int64_t, GradReturn<T>&,   \
                                       std::span<T>, std::span<T>);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace attnscale::sp

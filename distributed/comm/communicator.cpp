#include "distributed/comm/communicator.h"

#include <algorithm>
#include <numeric>
#include <thread>

#include "base/logging.h"

namespace attnscale {
namespace comm_detail {

std::size_t sum(std::span<const std::size_t> counts) {
  return std::accumulate(counts.begin(), counts.end(), std::size_t{0});
}

void check_size(std::size_t actual, std::size_t expected, std::string_view op, std::string_view what) {
  ATTNSCALE_CHECK(actual == expected, "comm", "{}: {} holds {} elements, expected {}", op, what, actual,
                  expected);
}

}  // namespace comm_detail

namespace {

std::uint64_t bytes_of(std::size_t count, CommDType dtype) { return count * dtype_size(dtype); }

// Elements a -v operation moves to (or from) the other ranks: every block but this rank's own.
std::size_t others(std::span<const std::size_t> counts, int rank) {
  return comm_detail::sum(counts) - counts[static_cast<std::size_t>(rank)];
}

}  // namespace

std::vector<std::size_t> packed_displacements(std::span<const std::size_t> counts) {
  std::vector<std::size_t> displs(counts.size());
  std::exclusive_scan(counts.begin(), counts.end(), displs.begin(), std::size_t{0});
  return displs;
}

std::size_t blocks_extent(std::span<const std::size_t> counts, std::span<const std::size_t> displs) {
  std::size_t end = 0;
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) end = std::max(end, displs[i] + counts[i]);
  return end;
}

Communicator::Communicator(std::shared_ptr<CommContext> context, std::string name, int rank, int size,
                           std::chrono::milliseconds timeout)
    : state_(std::make_shared<CommState>(std::move(context), std::move(name), rank, size, timeout)) {
  set_timeout(timeout);
}

void Communicator::set_timeout(std::chrono::milliseconds timeout) {
  ATTNSCALE_CHECK(timeout.count() > 0, "comm", "timeout must be positive, got {} ms", timeout.count());
  state_->timeout = timeout;
}

std::unique_ptr<Communicator> Communicator::split(int color, int key, std::string name) {
  ATTNSCALE_CHECK(color >= 0 || color == no_color, "comm",
                  "split: colour {} is negative (use Communicator::no_color to join no group)", color);
  if (!state_->broken.empty())
    throw RuntimeFailure(fmt::format("[comm] {}: cannot split: {}", state_->where(), state_->broken));
  return do_split(color, key, std::move(name));
}

// ---- validation and bookkeeping, once for every backend ---------------------------------------------

void Communicator::begin(const OpInfo& info, std::uint64_t bytes_sent, std::uint64_t bytes_received) {
  if (!state_->broken.empty())
    throw RuntimeFailure(fmt::format("[comm] {}: cannot start {}: the communicator is unusable: {}",
                                     state_->where(), describe(info), state_->broken));
  state_->context->count_operation(info);
  OpStats& stats = state_->stats[info.kind];
  ++stats.calls;
  stats.bytes_sent += bytes_sent;
  stats.bytes_received += bytes_received;
}

Request Communicator::track(std::unique_ptr<PendingOp> op, const OpInfo& info) {
  return Request(std::move(op), state_, info);
}

void Communicator::check_rank(int peer, std::string_view op, std::string_view role) const {
  ATTNSCALE_CHECK(peer >= 0 && peer < size(), "comm", "{}: {} {} is not a rank of '{}' (size {})", op, role,
                  peer, name(), size());
}

void Communicator::check_tag(int tag, std::string_view op) const {
  ATTNSCALE_CHECK(tag >= 0 && tag <= max_tag(), "comm", "{}: tag {} is outside [0, {}]", op, tag, max_tag());
}

void Communicator::check_count(std::size_t count, std::string_view op) const {
  ATTNSCALE_CHECK(count <= max_count(), "comm",
                  "{}: {} elements exceed the {} backend's limit of {} per call; split the buffer", op,
                  count, backend(), max_count());
}

void Communicator::check_buffer(const void* data, std::size_t count, std::string_view op) const {
  check_count(count, op);
  check_pointer(data, count, op);
}

void Communicator::check_pointer(const void* data, std::size_t count, std::string_view op) const {
  ATTNSCALE_CHECK(data != nullptr || count == 0, "comm", "{}: null buffer for {} elements", op, count);
}

void Communicator::check_rank_vector(std::span<const std::size_t> v, std::string_view op,
                                     std::string_view what) const {
  comm_detail::check_size(v.size(), static_cast<std::size_t>(size()), op, what);
  for (const std::size_t n : v) check_count(n, op);
}

// ---- point to point ----------------------------------------------------------------------------------

Request Communicator::isend(const void* data, std::size_t count, CommDType dtype, int peer, int tag) {
  check_rank(peer, "send", "destination");
  check_tag(tag, "send");
  check_buffer(data, count, "send");
  const OpInfo info{.kind = CommOp::send, .dtype = dtype, .count = count, .peer = peer, .tag = tag};
  begin(info, bytes_of(count, dtype), 0);
  return track(start_send(data, count, dtype, peer, tag), info);
}

Request Communicator::irecv(void* data, std::size_t count, CommDType dtype, int peer, int tag) {
  check_rank(peer, "recv", "source");
  check_tag(tag, "recv");
  check_buffer(data, count, "recv");
  const OpInfo info{.kind = CommOp::recv, .dtype = dtype, .count = count, .peer = peer, .tag = tag};
  begin(info, 0, bytes_of(count, dtype));
  return track(start_recv(data, count, dtype, peer, tag), info);
}

Request Communicator::isendrecv(const void* send_data, std::size_t send_count, int dest, void* recv_data,
                                std::size_t recv_count, int source, CommDType dtype, int tag) {
  check_rank(dest, "sendrecv", "destination");
  check_rank(source, "sendrecv", "source");
  check_tag(tag, "sendrecv");
  check_buffer(send_data, send_count, "sendrecv");
  check_buffer(recv_data, recv_count, "sendrecv");
  const OpInfo info{.kind = CommOp::sendrecv, .dtype = dtype, .count = send_count, .peer = dest, .tag = tag,
                    .source = source, .recv_count = recv_count};
  begin(info, bytes_of(send_count, dtype), bytes_of(recv_count, dtype));
  return track(start_sendrecv(send_data, send_count, dest, recv_data, recv_count, source, dtype, tag), info);
}

void Communicator::sendrecv(const void* send_data, std::size_t send_count, int dest, void* recv_data,
                            std::size_t recv_count, int source, CommDType dtype, int tag) {
  isendrecv(send_data, send_count, dest, recv_data, recv_count, source, dtype, tag).wait();
}

// ---- collectives -------------------------------------------------------------------------------------

Request Communicator::iall_reduce(void* data, std::size_t count, CommDType dtype, ReduceOp op) {
  check_buffer(data, count, "all_reduce");
  ATTNSCALE_CHECK(can_reduce(dtype), "comm", "all_reduce: the {} backend cannot reduce {}; reduce in f32",
                  backend(), dtype_name(dtype));
  const OpInfo info{.kind = CommOp::all_reduce, .dtype = dtype, .count = count, .reduce = op};
  begin(info, bytes_of(count, dtype), bytes_of(count, dtype));
  return track(start_all_reduce(data, count, dtype, op), info);
}

void Communicator::all_reduce(void* data, std::size_t count, CommDType dtype, ReduceOp op) {
  iall_reduce(data, count, dtype, op).wait();
}

void Communicator::all_reduce_loc(std::span<ValueIndex> data, LocOp op) {
  check_buffer(data.data(), data.size(), "all_reduce_loc");
  const OpInfo info{.kind = CommOp::all_reduce_loc, .dtype = CommDType::u8, .count = data.size_bytes()};
  begin(info, data.size_bytes(), data.size_bytes());
  track(start_all_reduce_loc(data.data(), data.size(), op), info).wait();
}

void Communicator::all_gather(const void* send_data, std::size_t count, void* recv_data, CommDType dtype) {
  check_buffer(send_data, count, "all_gather");
  check_pointer(recv_data, count * static_cast<std::size_t>(size()), "all_gather");
  const OpInfo info{.kind = CommOp::all_gather, .dtype = dtype, .count = count};
  begin(info, bytes_of(count, dtype), bytes_of(count * static_cast<std::size_t>(size() - 1), dtype));
  track(start_all_gather(send_data, count, recv_data, dtype), info).wait();
}

void Communicator::all_gather_v(const void* send_data, std::size_t send_count, void* recv_data,
                                std::span<const std::size_t> recv_counts,
                                std::span<const std::size_t> recv_displs, CommDType dtype) {
  check_rank_vector(recv_counts, "all_gather_v", "recv_counts");
  check_rank_vector(recv_displs, "all_gather_v", "recv_displs");
  comm_detail::check_size(send_count, recv_counts[static_cast<std::size_t>(rank())], "all_gather_v",
                          "send buffer (recv_counts[rank])");
  check_buffer(send_data, send_count, "all_gather_v");
  check_pointer(recv_data, comm_detail::sum(recv_counts), "all_gather_v");
  const OpInfo info{.kind = CommOp::all_gather_v, .dtype = dtype, .count = send_count};
  begin(info, bytes_of(send_count, dtype), bytes_of(others(recv_counts, rank()), dtype));
  track(start_all_gather_v(send_data, send_count, recv_data, recv_counts, recv_displs, dtype), info).wait();
}

void Communicator::all_to_all(const void* send_data, void* recv_data, std::size_t count_per_rank,
                              CommDType dtype) {
  const std::size_t total = count_per_rank * static_cast<std::size_t>(size());
  check_count(count_per_rank, "all_to_all");
  check_pointer(send_data, total, "all_to_all");
  check_pointer(recv_data, total, "all_to_all");
  const std::uint64_t moved = bytes_of(total - count_per_rank, dtype);
  const OpInfo info{.kind = CommOp::all_to_all, .dtype = dtype, .count = total};
  begin(info, moved, moved);
  track(start_all_to_all(send_data, recv_data, count_per_rank, dtype), info).wait();
}

void Communicator::all_to_all_v(const void* send_data, std::span<const std::size_t> send_counts,
                                std::span<const std::size_t> send_displs, void* recv_data,
                                std::span<const std::size_t> recv_counts,
                                std::span<const std::size_t> recv_displs, CommDType dtype) {
  check_rank_vector(send_counts, "all_to_all_v", "send_counts");
  check_rank_vector(send_displs, "all_to_all_v", "send_displs");
  check_rank_vector(recv_counts, "all_to_all_v", "recv_counts");
  check_rank_vector(recv_displs, "all_to_all_v", "recv_displs");
  check_pointer(send_data, comm_detail::sum(send_counts), "all_to_all_v");
  check_pointer(recv_data, comm_detail::sum(recv_counts), "all_to_all_v");
  const OpInfo info{.kind = CommOp::all_to_all_v, .dtype = dtype, .count = comm_detail::sum(send_counts)};
  begin(info, bytes_of(others(send_counts, rank()), dtype), bytes_of(others(recv_counts, rank()), dtype));
  track(start_all_to_all_v(send_data, send_counts, send_displs, recv_data, recv_counts, recv_displs, dtype),
        info)
      .wait();
}

void Communicator::broadcast(void* data, std::size_t count, CommDType dtype, int root) {
  check_rank(root, "broadcast", "root");
  check_buffer(data, count, "broadcast");
  const OpInfo info{.kind = CommOp::broadcast, .dtype = dtype, .count = count, .peer = root};
  const std::uint64_t bytes = size() > 1 ? bytes_of(count, dtype) : 0;
  begin(info, rank() == root ? bytes : 0, rank() == root ? 0 : bytes);
  track(start_broadcast(data, count, dtype, root), info).wait();
}

void Communicator::barrier() {
  const OpInfo info{.kind = CommOp::barrier};
  begin(info, 0, 0);
  track(start_barrier(), info).wait();
}

// ---- progress and teardown ---------------------------------------------------------------------------

void Communicator::progress() {
  // test() may complete an op but never removes it from in_flight (its Request does), so the
  // vector is stable while we walk it.
  for (PendingOp* op : state_->in_flight) op->test();
}

std::size_t Communicator::settle_orphans(std::chrono::milliseconds bound) noexcept {
  auto& orphans = state_->orphans;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  try {
    while (!orphans.empty()) {
      std::erase_if(orphans, [](const std::unique_ptr<PendingOp>& op) { return op->test(); });
      if (orphans.empty() || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  } catch (const std::exception& e) {
    LOG_ERROR("[comm] {}: error while settling abandoned operations: {}", state_->where(), e.what());
  }
  const std::size_t left = orphans.size();
  if (left > 0) {
    LOG_WARN("[comm] {}: {} abandoned operation(s) never completed; leaving them to the transport",
             state_->where(), left);
    // Deliberately leaked: freeing an active collective is erroneous, and the transport may still
    // read the argument arrays the op owns.
    for (auto& op : orphans) (void)op.release();
    orphans.clear();
  }
  return left;
}

}  // namespace attnscale

// Communicator: the one interface every distributed algorithm talks to (ring attention, Ulysses,
// halo exchange, data-parallel reduction). Raw buffers only: a pointer (host memory for
// MpiCommunicator, device memory for NcclCommunicator), an element count and a CommDType.
// Typed overloads take contiguous ranges (std::vector, std::span, ...) and check their sizes.
//
// Semantics shared by every backend (implemented once, here):
//  - every wait is bounded by timeout(); on expiry RuntimeFailure("[comm] rank R (NAME rank r of
//    n): OPERATION timed out after T s at step 'STEP' ..."). Ending the job on every rank after
//    such an error is decided in one place: run_job() (distributed/comm/mpi_environment.h);
//  - collectives block (with that timeout); isend, irecv, isendrecv and iall_reduce return a
//    Request (request.h) that waits, tests, or cancels on destruction;
//  - progress() drives every request in flight without blocking: call it between compute tiles;
//  - byte and call counters per operation kind (comm_stats.h);
//  - fault injection (fault_injection.h) counts every operation started.
// A communicator is used from one thread at a time; different communicators may be used from
// different threads when the backend allows it (MPI_THREAD_MULTIPLE, see MpiEnvironment).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "distributed/comm/comm_context.h"
#include "distributed/comm/comm_state.h"
#include "distributed/comm/comm_stats.h"
#include "distributed/comm/comm_types.h"
#include "distributed/comm/request.h"

namespace attnscale {

// A contiguous range of a type a communicator moves.
template <class R>
concept CommRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                    CommElement<std::ranges::range_value_t<R>>;
// ... that can be written.
template <class R>
concept CommOutRange =
    CommRange<R> && !std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<R>>>;

// Exclusive prefix sum: the displacements of blocks packed one after another.
std::vector<std::size_t> packed_displacements(std::span<const std::size_t> counts);
// Elements a -v buffer spans: up to the end of its last non-empty block.
std::size_t blocks_extent(std::span<const std::size_t> counts, std::span<const std::size_t> displs);

class Communicator {
 public:
  // split() colour for a rank that joins no new communicator (split returns nullptr there).
  static constexpr int no_color = -1;

  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return state_->rank; }
  int size() const { return state_->size; }
  const std::string& name() const { return state_->name; }
  virtual std::string_view backend() const = 0;  // "mpi", "nccl"
  virtual bool uses_device_memory() const = 0;

  // Per communicator; split() copies it.
  std::chrono::milliseconds timeout() const { return state_->timeout; }
  void set_timeout(std::chrono::milliseconds timeout);
  // Shared with every communicator of the same root (the label of what the job is doing now).
  std::string step() const { return state_->context->step(); }
  void set_step(std::string step) { state_->context->set_step(std::move(step)); }
  // What this communicator shares with its family (step label, fault plan, operation count); a
  // communicator of another backend bootstrapped from this one joins the family through it.
  const std::shared_ptr<CommContext>& context() const { return state_->context; }

  // Collective: ranks with the same colour form a new communicator named `name`, ordered by key
  // (ties by rank). Returns nullptr on ranks that pass no_color.
  std::unique_ptr<Communicator> split(int color, int key, std::string name);

  // ---- point to point (tags >= 0; NCCL ignores tags and matches in order) ----------------------
  Request isend(const void* data, std::size_t count, CommDType dtype, int peer, int tag = 0);
  Request irecv(void* data, std::size_t count, CommDType dtype, int peer, int tag = 0);
  // Sends to dest and receives from source as one operation (a ring step); either may be this
  // rank. Use it rather than an irecv + isend pair: NCCL serialises a communicator's operations,
  // so a lone recv ahead of its send deadlocks a ring there; isendrecv groups the two.
  Request isendrecv(const void* send_data, std::size_t send_count, int dest, void* recv_data,
                    std::size_t recv_count, int source, CommDType dtype, int tag = 0);
  void sendrecv(const void* send_data, std::size_t send_count, int dest, void* recv_data,
                std::size_t recv_count, int source, CommDType dtype, int tag = 0);

  // ---- collectives (counts in elements; -v displacements in elements) ---------------------------
  void all_reduce(void* data, std::size_t count, CommDType dtype, ReduceOp op);  // in place
  Request iall_reduce(void* data, std::size_t count, CommDType dtype, ReduceOp op);
  // Element-wise arg-max / arg-min over ranks (MPI MAXLOC / MINLOC), in place.
  void all_reduce_loc(std::span<ValueIndex> data, LocOp op);
  // recv holds size() blocks of count elements, in rank order.
  void all_gather(const void* send_data, std::size_t count, void* recv_data, CommDType dtype);
  void all_gather_v(const void* send_data, std::size_t send_count, void* recv_data,
                    std::span<const std::size_t> recv_counts, std::span<const std::size_t> recv_displs,
                    CommDType dtype);
  // Block r of send goes to rank r; block r of recv came from rank r.
  void all_to_all(const void* send_data, void* recv_data, std::size_t count_per_rank, CommDType dtype);
  void all_to_all_v(const void* send_data, std::span<const std::size_t> send_counts,
                    std::span<const std::size_t> send_displs, void* recv_data,
                    std::span<const std::size_t> recv_counts, std::span<const std::size_t> recv_displs,
                    CommDType dtype);
  void broadcast(void* data, std::size_t count, CommDType dtype, int root);
  void barrier();

  // Drives every request in flight on this communicator without blocking (cheap when none are).
  void progress();

  const CommStats& stats() const { return state_->stats; }
  void reset_stats() { state_->stats.reset(); }

  // ---- typed overloads -------------------------------------------------------------------------
  // Async: the range must outlive the request (an lvalue or a view, never a temporary container).
  template <class R>
    requires CommRange<R> && std::ranges::borrowed_range<R>
  Request isend(R&& data, int peer, int tag = 0);
  template <class R>
    requires CommOutRange<R> && std::ranges::borrowed_range<R>
  Request irecv(R&& data, int peer, int tag = 0);
  template <class R>
    requires CommOutRange<R> && std::ranges::borrowed_range<R>
  Request iall_reduce(R&& data, ReduceOp op);

  template <class S, class R>
    requires CommRange<S> && std::ranges::borrowed_range<S> && CommOutRange<R> &&
             std::ranges::borrowed_range<R>
  Request isendrecv(S&& send, int dest, R&& recv, int source, int tag = 0);

  template <CommRange S, CommOutRange R>
  void sendrecv(const S& send, int dest, R&& recv, int source, int tag = 0);
  template <CommOutRange R>
  void all_reduce(R&& data, ReduceOp op);
  template <CommElement T>
  T all_reduce_value(T value, ReduceOp op);
  template <CommRange S, CommOutRange R>
  void all_gather(const S& send, R&& recv);
  template <CommElement T>
  std::vector<T> all_gather_value(T value);
  // recv holds the blocks packed in rank order; recv_counts[r] elements came from rank r.
  template <CommRange S, CommOutRange R>
  void all_gather_v(const S& send, R&& recv, std::span<const std::size_t> recv_counts);
  template <CommRange S, CommOutRange R>
  void all_to_all(const S& send, R&& recv);
  // Blocks packed in rank order: send_counts[r] elements go to rank r, recv_counts[r] come from r.
  template <CommRange S, CommOutRange R>
  void all_to_all_v(const S& send, std::span<const std::size_t> send_counts, R&& recv,
                    std::span<const std::size_t> recv_counts);
  template <CommOutRange R>
  void broadcast(R&& data, int root);

 protected:
  Communicator(std::shared_ptr<CommContext> context, std::string name, int rank, int size,
               std::chrono::milliseconds timeout);

  // Waits (up to `bound`) for abandoned operations a backend could not cancel; returns how many
  // are still pending. For backend destructors.
  std::size_t settle_orphans(std::chrono::milliseconds bound) noexcept;

  // The transport. Arguments are validated and counted before these are called.
  virtual std::size_t max_count() const = 0;  // elements per call (and per -v block)
  virtual int max_tag() const = 0;
  virtual bool can_reduce(CommDType dtype) const = 0;
  virtual std::unique_ptr<Communicator> do_split(int color, int key, std::string name) = 0;
  virtual std::unique_ptr<PendingOp> start_send(const void* data, std::size_t count, CommDType dtype,
                                                int peer, int tag) = 0;
  virtual std::unique_ptr<PendingOp> start_recv(void* data, std::size_t count, CommDType dtype,
                                                int peer, int tag) = 0;
  virtual std::unique_ptr<PendingOp> start_sendrecv(const void* send_data, std::size_t send_count, int dest,
                                                    void* recv_data, std::size_t recv_count, int source,
                                                    CommDType dtype, int tag) = 0;
  virtual std::unique_ptr<PendingOp> start_all_reduce(void* data, std::size_t count, CommDType dtype,
                                                      ReduceOp op) = 0;
  virtual std::unique_ptr<PendingOp> start_all_reduce_loc(ValueIndex* data, std::size_t count,
                                                          LocOp op) = 0;
  virtual std::unique_ptr<PendingOp> start_all_gather(const void* send_data, std::size_t count,
                                                      void* recv_data, CommDType dtype) = 0;
  virtual std::unique_ptr<PendingOp> start_all_gather_v(const void* send_data, std::size_t send_count,
                                                        void* recv_data,
                                                        std::span<const std::size_t> recv_counts,
                                                        std::span<const std::size_t> recv_displs,
                                                        CommDType dtype) = 0;
  virtual std::unique_ptr<PendingOp> start_all_to_all(const void* send_data, void* recv_data,
                                                      std::size_t count_per_rank, CommDType dtype) = 0;
  virtual std::unique_ptr<PendingOp> start_all_to_all_v(
      const void* send_data, std::span<const std::size_t> send_counts,
      std::span<const std::size_t> send_displs, void* recv_data,
      std::span<const std::size_t> recv_counts, std::span<const std::size_t> recv_displs,
      CommDType dtype) = 0;
  virtual std::unique_ptr<PendingOp> start_broadcast(void* data, std::size_t count, CommDType dtype,
                                                     int root) = 0;
  virtual std::unique_ptr<PendingOp> start_barrier() = 0;

 private:
  // Checks that the communicator is usable, counts the operation (calls, bytes, fault injection).
  void begin(const OpInfo& info, std::uint64_t bytes_sent, std::uint64_t bytes_received);
  Request track(std::unique_ptr<PendingOp> op, const OpInfo& info);
  void check_rank(int peer, std::string_view op, std::string_view role) const;
  void check_tag(int tag, std::string_view op) const;
  void check_count(std::size_t count, std::string_view op) const;
  void check_buffer(const void* data, std::size_t count, std::string_view op) const;  // count and pointer
  void check_pointer(const void* data, std::size_t count, std::string_view op) const;
  void check_rank_vector(std::span<const std::size_t> v, std::string_view op, std::string_view what) const;

  std::shared_ptr<CommState> state_;
};

// ---- typed overloads ------------------------------------------------------------------------------

namespace comm_detail {

template <class R>
using Element = std::remove_cv_t<std::ranges::range_value_t<R>>;

template <class S, class R>
constexpr void require_same_element() {
  static_assert(std::is_same_v<Element<S>, Element<R>>,
                "send and receive ranges must hold the same element type");
}

std::size_t sum(std::span<const std::size_t> counts);
void check_size(std::size_t actual, std::size_t expected, std::string_view op, std::string_view what);

}  // namespace comm_detail

template <class R>
  requires CommRange<R> && std::ranges::borrowed_range<R>
Request Communicator::isend(R&& data, int peer, int tag) {
  return isend(std::ranges::data(data), std::ranges::size(data), comm_dtype_v<comm_detail::Element<R>>,
               peer, tag);
}

template <class R>
  requires CommOutRange<R> && std::ranges::borrowed_range<R>
Request Communicator::irecv(R&& data, int peer, int tag) {
  return irecv(std::ranges::data(data), std::ranges::size(data), comm_dtype_v<comm_detail::Element<R>>,
               peer, tag);
}

template <class R>
  requires CommOutRange<R> && std::ranges::borrowed_range<R>
Request Communicator::iall_reduce(R&& data, ReduceOp op) {
  return iall_reduce(std::ranges::data(data), std::ranges::size(data),
                     comm_dtype_v<comm_detail::Element<R>>, op);
}

template <class S, class R>
  requires CommRange<S> && std::ranges::borrowed_range<S> && CommOutRange<R> &&
           std::ranges::borrowed_range<R>
Request Communicator::isendrecv(S&& send, int dest, R&& recv, int source, int tag) {
  comm_detail::require_same_element<S, R>();
  return isendrecv(std::ranges::data(send), std::ranges::size(send), dest, std::ranges::data(recv),
                   std::ranges::size(recv), source, comm_dtype_v<comm_detail::Element<R>>, tag);
}

template <CommRange S, CommOutRange R>
void Communicator::sendrecv(const S& send, int dest, R&& recv, int source, int tag) {
  comm_detail::require_same_element<S, R>();
  sendrecv(std::ranges::data(send), std::ranges::size(send), dest, std::ranges::data(recv),
           std::ranges::size(recv), source, comm_dtype_v<comm_detail::Element<R>>, tag);
}

template <CommOutRange R>
void Communicator::all_reduce(R&& data, ReduceOp op) {
  all_reduce(std::ranges::data(data), std::ranges::size(data), comm_dtype_v<comm_detail::Element<R>>, op);
}

template <CommElement T>
T Communicator::all_reduce_value(T value, ReduceOp op) {
  all_reduce(&value, 1, comm_dtype_v<T>, op);
  return value;
}

template <CommRange S, CommOutRange R>
void Communicator::all_gather(const S& send, R&& recv) {
  comm_detail::require_same_element<S, R>();
  const std::size_t count = std::ranges::size(send);
  comm_detail::check_size(std::ranges::size(recv), count * static_cast<std::size_t>(size()),
                          "all_gather", "receive range");
  all_gather(std::ranges::data(send), count, std::ranges::data(recv), comm_dtype_v<comm_detail::Element<R>>);
}

template <CommElement T>
std::vector<T> Communicator::all_gather_value(T value) {
  std::vector<T> values(static_cast<std::size_t>(size()));
  all_gather(&value, 1, values.data(), comm_dtype_v<T>);
  return values;
}

template <CommRange S, CommOutRange R>
void Communicator::all_gather_v(const S& send, R&& recv, std::span<const std::size_t> recv_counts) {
  comm_detail::require_same_element<S, R>();
  comm_detail::check_size(recv_counts.size(), static_cast<std::size_t>(size()), "all_gather_v", "recv_counts");
  comm_detail::check_size(std::ranges::size(send), recv_counts[static_cast<std::size_t>(rank())],
                          "all_gather_v", "send range (recv_counts[rank])");
  comm_detail::check_size(std::ranges::size(recv), comm_detail::sum(recv_counts), "all_gather_v",
                          "receive range (sum of recv_counts)");
  const std::vector<std::size_t> displs = packed_displacements(recv_counts);
  all_gather_v(std::ranges::data(send), std::ranges::size(send), std::ranges::data(recv), recv_counts,
               displs, comm_dtype_v<comm_detail::Element<R>>);
}

template <CommRange S, CommOutRange R>
void Communicator::all_to_all(const S& send, R&& recv) {
  comm_detail::require_same_element<S, R>();
  const auto ranks = static_cast<std::size_t>(size());
  const std::size_t total = std::ranges::size(send);
  ATTNSCALE_CHECK(total % ranks == 0, "comm", "all_to_all: send range of {} elements is not {} equal blocks",
                  total, ranks);
  comm_detail::check_size(std::ranges::size(recv), total, "all_to_all", "receive range");
  all_to_all(std::ranges::data(send), std::ranges::data(recv), total / ranks,
             comm_dtype_v<comm_detail::Element<R>>);
}

template <CommRange S, CommOutRange R>
void Communicator::all_to_all_v(const S& send, std::span<const std::size_t> send_counts, R&& recv,
                                std::span<const std::size_t> recv_counts) {
  comm_detail::require_same_element<S, R>();
  const auto ranks = static_cast<std::size_t>(size());
  comm_detail::check_size(send_counts.size(), ranks, "all_to_all_v", "send_counts");
  comm_detail::check_size(recv_counts.size(), ranks, "all_to_all_v", "recv_counts");
  comm_detail::check_size(std::ranges::size(send), comm_detail::sum(send_counts), "all_to_all_v",
                          "send range (sum of send_counts)");
  comm_detail::check_size(std::ranges::size(recv), comm_detail::sum(recv_counts), "all_to_all_v",
                          "receive range (sum of recv_counts)");
  const std::vector<std::size_t> send_displs = packed_displacements(send_counts);
  const std::vector<std::size_t> recv_displs = packed_displacements(recv_counts);
  all_to_all_v(std::ranges::data(send), send_counts, send_displs, std::ranges::data(recv), recv_counts,
               recv_displs, comm_dtype_v<comm_detail::Element<R>>);
}

template <CommOutRange R>
void Communicator::broadcast(R&& data, int root) {
  broadcast(std::ranges::data(data), std::ranges::size(data), comm_dtype_v<comm_detail::Element<R>>, root);
}

}  // namespace attnscale

#include "distributed/comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <exception>

#include "base/error.h"
#include "distributed/comm/mpi_check.h"
#include "distributed/comm/mpi_pending_op.h"

namespace attnscale {
namespace {

using Kind = MpiPendingOp::Kind;

void require_mpi() {
  int initialized = 0;
  int finalized = 0;
  ATTNSCALE_MPI_CHECK(MPI_Initialized(&initialized));
  ATTNSCALE_MPI_CHECK(MPI_Finalized(&finalized));
  if (!initialized || finalized)
    throw UsageError("[comm] MPI is not initialised: create an attnscale::MpiEnvironment first");
}

int rank_of(MPI_Comm comm) {
  require_mpi();
  int rank = 0;
  ATTNSCALE_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  return rank;
}

int size_of(MPI_Comm comm) {
  int size = 0;
  ATTNSCALE_MPI_CHECK(MPI_Comm_size(comm, &size));
  return size;
}

// Errors come back as codes for ATTNSCALE_MPI_CHECK instead of aborting the job inside MPI.
MpiCommHandle adopt(MPI_Comm comm) {
  MpiCommHandle handle(comm);
  ATTNSCALE_MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  return handle;
}

MpiCommHandle duplicate(MPI_Comm comm) {
  require_mpi();
  MPI_Comm dup = MPI_COMM_NULL;
  ATTNSCALE_MPI_CHECK(MPI_Comm_dup(comm, &dup));
  return adopt(dup);
}

MPI_Datatype to_mpi(CommDType dtype) {
  switch (dtype) {
    case CommDType::u8: return MPI_UINT8_T;
    case CommDType::i32: return MPI_INT32_T;
    case CommDType::i64: return MPI_INT64_T;
    case CommDType::u64: return MPI_UINT64_T;
    case CommDType::f16:
    case CommDType::bf16: return MPI_UINT16_T;  // moved as 16-bit words, never reduced
    case CommDType::f32: return MPI_FLOAT;
    case CommDType::f64: return MPI_DOUBLE;
  }
  throw UsageError("[comm] unknown CommDType");
}

MPI_Op to_mpi(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  throw UsageError("[comm] unknown ReduceOp");
}

// Counts were checked against max_count(); displacements may still be too large for MPI's int.
int to_int(std::size_t n, std::string_view op) {
  ATTNSCALE_CHECK(n <= static_cast<std::size_t>(INT_MAX), "comm",
                  "{}: displacement {} exceeds MPI's int range; split the buffer", op, n);
  return static_cast<int>(n);
}

// Appends the int form of each array to the op's storage; returns pointers into it (valid until
// the op is destroyed: the storage is sized once, never reallocated).
std::vector<int*> store_int_args(MpiPendingOp& op, std::string_view name,
                                 std::initializer_list<std::span<const std::size_t>> arrays) {
  std::vector<int>& storage = op.int_args();
  std::size_t total = 0;
  for (const auto& a : arrays) total += a.size();
  storage.resize(total);
  std::vector<int*> starts;
  std::size_t at = 0;
  for (const auto& a : arrays) {
    starts.push_back(storage.data() + at);
    for (const std::size_t n : a) storage[at++] = to_int(n, name);
  }
  return starts;
}


}  // namespace

MpiCommHandle& MpiCommHandle::operator=(MpiCommHandle&& other) noexcept {
  if (this != &other) {
    reset();
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

void MpiCommHandle::reset() noexcept {
  if (comm_ == MPI_COMM_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);  // pending operations still complete (MPI 3.1 6.4.3)
  comm_ = MPI_COMM_NULL;
}

MpiCommunicator::MpiCommunicator(MPI_Comm comm, const CommSettings& settings, std::string name)
    : MpiCommunicator(Adopt{}, duplicate(comm), std::make_shared<CommContext>(settings.fault, rank_of(comm)),
                      std::move(name), settings.timeout) {}

MpiCommunicator::MpiCommunicator(const MpiCommunicator& from, std::shared_ptr<const BufferStaging> staging,
                                 std::string name)
    : MpiCommunicator(Adopt{}, duplicate(from.handle()), from.context(), std::move(name), from.timeout(),
                      std::move(staging)) {}

MpiCommunicator::MpiCommunicator(Adopt, MpiCommHandle comm, std::shared_ptr<CommContext> context,
                                 std::string name, std::chrono::milliseconds timeout,
                                 std::shared_ptr<const BufferStaging> staging)
    : Communicator(std::move(context), std::move(name), rank_of(comm.get()), size_of(comm.get()), timeout),
      comm_(std::move(comm)),
      staging_(std::move(staging)) {
  int* tag_ub = nullptr;
  int found = 0;
  ATTNSCALE_MPI_CHECK(MPI_Comm_get_attr(comm_.get(), MPI_TAG_UB, &tag_ub, &found));
  if (found && tag_ub) max_tag_ = *tag_ub;
}

// While an error unwinds (a timed-out operation, usually) the job is ending: run_job aborts it. Waiting
// another timeout for the operation that already timed out would only double the wait.
MpiCommunicator::~MpiCommunicator() {
  settle_orphans(std::uncaught_exceptions() > 0 ? std::chrono::milliseconds(0) : timeout());
}

std::size_t MpiCommunicator::max_count() const { return static_cast<std::size_t>(INT_MAX); }

std::unique_ptr<Communicator> MpiCommunicator::do_split(int color, int key, std::string name) {
  // MPI_Comm_split cannot time out; a bounded barrier first turns a dead peer into an error.
  barrier();
  MPI_Comm out = MPI_COMM_NULL;
  ATTNSCALE_MPI_CHECK(MPI_Comm_split(comm_.get(), color == no_color ? MPI_UNDEFINED : color, key, &out));
  if (out == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiCommunicator>(Adopt{}, adopt(out), context(), std::move(name), timeout(), staging_);
}

std::unique_ptr<PendingOp> MpiCommunicator::start_send(const void* data, std::size_t count, CommDType dtype,
                                                       int peer, int tag) {
  StagedBuffers staged(staging_);
  const void* send = staged.in(data, count * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::point_to_point);
  ATTNSCALE_MPI_CHECK(
      MPI_Isend(send, static_cast<int>(count), to_mpi(dtype), peer, tag, comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_recv(void* data, std::size_t count, CommDType dtype,
                                                       int peer, int tag) {
  StagedBuffers staged(staging_);
  void* recv = staged.out(data, count * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::point_to_point);
  ATTNSCALE_MPI_CHECK(
      MPI_Irecv(recv, static_cast<int>(count), to_mpi(dtype), peer, tag, comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_sendrecv(const void* send_data, std::size_t send_count,
                                                           int dest, void* recv_data, std::size_t recv_count,
                                                           int source, CommDType dtype, int tag) {
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, send_count * dtype_size(dtype));
  void* recv = staged.out(recv_data, recv_count * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::point_to_point);
  // Receive first so that a message to self (or from a fast peer) finds its receive posted.
  ATTNSCALE_MPI_CHECK(MPI_Irecv(recv, static_cast<int>(recv_count), to_mpi(dtype), source, tag,
                                comm_.get(), op->add_request()));
  ATTNSCALE_MPI_CHECK(MPI_Isend(send, static_cast<int>(send_count), to_mpi(dtype), dest, tag,
                                comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_reduce(void* data, std::size_t count, CommDType dtype,
                                                             ReduceOp reduce) {
  StagedBuffers staged(staging_);
  void* buffer = staged.in_out(data, count * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  ATTNSCALE_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer, static_cast<int>(count), to_mpi(dtype),
                                     to_mpi(reduce), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_reduce_loc(ValueIndex* data, std::size_t count,
                                                                 LocOp loc) {
  StagedBuffers staged(staging_);
  void* buffer = staged.in_out(data, count * sizeof(ValueIndex));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  ATTNSCALE_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer, static_cast<int>(count), loc_.datatype(),
                                     loc_.op(loc), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_gather(const void* send_data, std::size_t count,
                                                             void* recv_data, CommDType dtype) {
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, count * dtype_size(dtype));
  void* recv = staged.out(recv_data, count * static_cast<std::size_t>(size()) * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  const int n = static_cast<int>(count);
  ATTNSCALE_MPI_CHECK(
      MPI_Iallgather(send, n, to_mpi(dtype), recv, n, to_mpi(dtype), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_gather_v(const void* send_data, std::size_t send_count,
                                                               void* recv_data,
                                                               std::span<const std::size_t> recv_counts,
                                                               std::span<const std::size_t> recv_displs,
                                                               CommDType dtype) {
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, send_count * dtype_size(dtype));
  void* recv = staged.out(recv_data, blocks_extent(recv_counts, recv_displs) * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  const auto args = store_int_args(*op, "all_gather_v", {recv_counts, recv_displs});
  ATTNSCALE_MPI_CHECK(MPI_Iallgatherv(send, static_cast<int>(send_count), to_mpi(dtype), recv, args[0], args[1],
                                      to_mpi(dtype), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_to_all(const void* send_data, void* recv_data,
                                                             std::size_t count_per_rank, CommDType dtype) {
  StagedBuffers staged(staging_);
  const std::size_t bytes = count_per_rank * static_cast<std::size_t>(size()) * dtype_size(dtype);
  const void* send = staged.in(send_data, bytes);
  void* recv = staged.out(recv_data, bytes);
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  const int n = static_cast<int>(count_per_rank);
  ATTNSCALE_MPI_CHECK(
      MPI_Ialltoall(send, n, to_mpi(dtype), recv, n, to_mpi(dtype), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_all_to_all_v(
    const void* send_data, std::span<const std::size_t> send_counts, std::span<const std::size_t> send_displs,
    void* recv_data, std::span<const std::size_t> recv_counts, std::span<const std::size_t> recv_displs,
    CommDType dtype) {
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, blocks_extent(send_counts, send_displs) * dtype_size(dtype));
  void* recv = staged.out(recv_data, blocks_extent(recv_counts, recv_displs) * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  const auto args = store_int_args(*op, "all_to_all_v", {send_counts, send_displs, recv_counts, recv_displs});
  ATTNSCALE_MPI_CHECK(MPI_Ialltoallv(send, args[0], args[1], to_mpi(dtype), recv, args[2], args[3],
                                     to_mpi(dtype), comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_broadcast(void* data, std::size_t count, CommDType dtype,
                                                            int root) {
  StagedBuffers staged(staging_);
  void* buffer = staged.in_out(data, count * dtype_size(dtype));
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  ATTNSCALE_MPI_CHECK(
      MPI_Ibcast(buffer, static_cast<int>(count), to_mpi(dtype), root, comm_.get(), op->add_request()));
  return staged.wrap(std::move(op));
}

std::unique_ptr<PendingOp> MpiCommunicator::start_barrier() {
  auto op = std::make_unique<MpiPendingOp>(Kind::collective);
  ATTNSCALE_MPI_CHECK(MPI_Ibarrier(comm_.get(), op->add_request()));
  return op;
}

}  // namespace attnscale

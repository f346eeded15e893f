#include "distributed/comm/nccl_communicator.h"

#include <climits>
#include <cstdint>
#include <limits>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "distributed/comm/node_info.h"

namespace attnscale {
namespace {

ncclDataType_t to_nccl(CommDType dtype) {
  switch (dtype) {
    case CommDType::u8: return ncclUint8;
    case CommDType::i32: return ncclInt32;
    case CommDType::i64: return ncclInt64;
    case CommDType::u64: return ncclUint64;
    case CommDType::f16: return ncclFloat16;
    case CommDType::bf16: return ncclBfloat16;
    case CommDType::f32: return ncclFloat32;
    case CommDType::f64: return ncclFloat64;
  }
  throw UsageError("[comm] unknown CommDType");
}

ncclRedOp_t to_nccl(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  throw UsageError("[comm] unknown ReduceOp");
}

const char* at(const void* base, std::size_t elements, CommDType dtype) {
  return static_cast<const char*>(base) + elements * dtype_size(dtype);
}
char* at(void* base, std::size_t elements, CommDType dtype) {
  return static_cast<char*>(base) + elements * dtype_size(dtype);
}

// Ends an NCCL group even when a call inside it throws.
class NcclGroup {
 public:
  NcclGroup() { ATTNSCALE_NCCL_CHECK(ncclGroupStart()); }
  void end() {
    ended_ = true;
    ATTNSCALE_NCCL_CHECK(ncclGroupEnd());
  }
  ~NcclGroup() {
    if (!ended_) ncclGroupEnd();
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

 private:
  bool ended_ = false;
};

// An operation enqueued on the communicator's stream, complete when the event recorded after it
// fires. NCCL cannot cancel one operation, so abandon() refuses and the communicator is aborted.
class NcclPendingOp final : public PendingOp {
 public:
  NcclPendingOp(std::shared_ptr<NcclCommHandle> comm, cudaStream_t stream, std::function<void()> on_complete)
      : comm_(std::move(comm)), on_complete_(std::move(on_complete)) {
    ATTNSCALE_COMM_CUDA_CHECK(cudaEventRecord(event_.get(), stream));
  }

  bool test() override {
    if (done_) return true;
    const cudaError_t state = cudaEventQuery(event_.get());
    if (state == cudaErrorNotReady) {
      ncclResult_t async = ncclSuccess;
      ATTNSCALE_NCCL_CHECK(ncclCommGetAsyncError(comm_->get(), &async));
      if (async != ncclSuccess && async != ncclInProgress)
        throw_nccl_error("asynchronous NCCL operation", __FILE__, __LINE__, async);
      return false;
    }
    ATTNSCALE_COMM_CUDA_CHECK(state);
    if (on_complete_) on_complete_();
    done_ = true;
    return true;
  }

  bool abandon() noexcept override { return done_; }

 private:
  std::shared_ptr<NcclCommHandle> comm_;
  CudaEvent event_;
  std::function<void()> on_complete_;
  bool done_ = false;
};

ncclConfig_t blocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 1;
  return config;
}

int choose_device() {
  int devices = 0;
  ATTNSCALE_COMM_CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices < 1) throw RuntimeFailure("[nccl] no CUDA device is visible to this rank");
  return node_info().local_rank % devices;
}

NcclCommunicator::DeviceComm init_from(MpiCommunicator& bootstrap) {
  const int device = choose_device();
  ncclUniqueId id{};
  if (bootstrap.rank() == 0) ATTNSCALE_NCCL_CHECK(ncclGetUniqueId(&id));
  bootstrap.broadcast(&id, sizeof(id), CommDType::u8, 0);
  CudaDeviceGuard guard(device);
  ncclConfig_t config = blocking_config();
  ncclComm_t comm = nullptr;
  ATTNSCALE_NCCL_CHECK(ncclCommInitRankConfig(&comm, bootstrap.size(), id, bootstrap.rank(), &config));
  return {NcclCommHandle(comm), device};
}

int user_rank(ncclComm_t comm) {
  int rank = 0;
  ATTNSCALE_NCCL_CHECK(ncclCommUserRank(comm, &rank));
  return rank;
}

int rank_count(ncclComm_t comm) {
  int count = 0;
  ATTNSCALE_NCCL_CHECK(ncclCommCount(comm, &count));
  return count;
}

}  // namespace

NcclCommunicator::NcclCommunicator(MpiCommunicator& bootstrap, std::string name)
    : NcclCommunicator(Adopt{}, init_from(bootstrap), bootstrap.context(), std::move(name), bootstrap.timeout()) {}

NcclCommunicator::NcclCommunicator(Adopt, DeviceComm comm, std::shared_ptr<CommContext> context, std::string name,
                                   std::chrono::milliseconds timeout)
    : Communicator(std::move(context), std::move(name), user_rank(comm.comm.get()), rank_count(comm.comm.get()),
                   timeout),
      device_(comm.device),
      comm_(std::make_shared<NcclCommHandle>(std::move(comm.comm))),
      stream_(comm.device),
      barrier_word_(sizeof(float), comm.device) {}

NcclCommunicator::~NcclCommunicator() {
  // An abandoned NCCL kernel never finishes on its own: abort instead of waiting for it.
  if (settle_orphans(std::chrono::milliseconds(0)) > 0) comm_->abort_now();
}

std::size_t NcclCommunicator::max_count() const { return std::numeric_limits<std::size_t>::max() / 16; }
int NcclCommunicator::max_tag() const { return INT_MAX; }

std::unique_ptr<PendingOp> NcclCommunicator::enqueued(std::function<void()> on_complete) {
  return std::make_unique<NcclPendingOp>(comm_, stream_.get(), std::move(on_complete));
}

std::unique_ptr<Communicator> NcclCommunicator::do_split(int color, int key, std::string name) {
  barrier();  // ncclCommSplit cannot time out; a bounded barrier first turns a dead peer into an error
  CudaDeviceGuard guard(device_);
  ncclConfig_t config = blocking_config();
  ncclComm_t out = nullptr;
  ATTNSCALE_NCCL_CHECK(ncclCommSplit(comm_->get(), color == no_color ? NCCL_SPLIT_NOCOLOR : color, key, &out, &config));
  if (out == nullptr) return nullptr;
  return std::make_unique<NcclCommunicator>(Adopt{}, DeviceComm{NcclCommHandle(out), device_}, context(),
                                            std::move(name), timeout());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_send(const void* data, std::size_t count, CommDType dtype,
                                                        int peer, int /*tag*/) {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(ncclSend(data, count, to_nccl(dtype), peer, comm_->get(), stream_.get()));
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_recv(void* data, std::size_t count, CommDType dtype, int peer,
                                                        int /*tag*/) {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(ncclRecv(data, count, to_nccl(dtype), peer, comm_->get(), stream_.get()));
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_sendrecv(const void* send_data, std::size_t send_count,
                                                            int dest, void* recv_data, std::size_t recv_count,
                                                            int source, CommDType dtype, int /*tag*/) {
  CudaDeviceGuard guard(device_);
  NcclGroup group;
  if (send_count > 0)
    ATTNSCALE_NCCL_CHECK(ncclSend(send_data, send_count, to_nccl(dtype), dest, comm_->get(), stream_.get()));
  if (recv_count > 0)
    ATTNSCALE_NCCL_CHECK(ncclRecv(recv_data, recv_count, to_nccl(dtype), source, comm_->get(), stream_.get()));
  group.end();
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_reduce(void* data, std::size_t count, CommDType dtype,
                                                              ReduceOp op) {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(
      ncclAllReduce(data, data, count, to_nccl(dtype), to_nccl(op), comm_->get(), stream_.get()));
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_reduce_loc(ValueIndex* data, std::size_t count, LocOp op) {
  // NCCL has no MAXLOC: gather every rank's pairs, reduce them on the host with the shared
  // reduce_loc (the same tie rule as MPI), copy the result back.
  CudaDeviceGuard guard(device_);
  const std::size_t ranks = static_cast<std::size_t>(size());
  auto gathered = std::make_shared<DeviceBuffer>(count * ranks * sizeof(ValueIndex), device_);
  ATTNSCALE_NCCL_CHECK(ncclAllGather(data, gathered->get(), count * sizeof(ValueIndex), ncclUint8, comm_->get(),
                                     stream_.get()));
  const int device = device_;
  return enqueued([gathered, data, count, ranks, op, device] {
    CudaDeviceGuard inner(device);
    std::vector<ValueIndex> pairs(count * ranks);
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(pairs.data(), gathered->get(), gathered->bytes(), cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t r = 1; r < ranks; ++r) pairs[i] = reduce_loc(pairs[i], pairs[r * count + i], op);
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(data, pairs.data(), count * sizeof(ValueIndex), cudaMemcpyHostToDevice));
  });
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_gather(const void* send_data, std::size_t count,
                                                              void* recv_data, CommDType dtype) {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(ncclAllGather(send_data, recv_data, count, to_nccl(dtype), comm_->get(), stream_.get()));
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_gather_v(const void* send_data, std::size_t /*send_count*/,
                                                                void* recv_data,
                                                                std::span<const std::size_t> recv_counts,
                                                                std::span<const std::size_t> recv_displs,
                                                                CommDType dtype) {
  // One broadcast per rank, grouped; every rank skips the same empty blocks.
  CudaDeviceGuard guard(device_);
  NcclGroup group;
  for (int r = 0; r < size(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (recv_counts[i] == 0) continue;
    ATTNSCALE_NCCL_CHECK(ncclBroadcast(send_data, at(recv_data, recv_displs[i], dtype), recv_counts[i],
                                       to_nccl(dtype), r, comm_->get(), stream_.get()));
  }
  group.end();
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_to_all(const void* send_data, void* recv_data,
                                                              std::size_t count_per_rank, CommDType dtype) {
  const std::vector<std::size_t> counts(static_cast<std::size_t>(size()), count_per_rank);
  const std::vector<std::size_t> displs = packed_displacements(counts);
  return start_all_to_all_v(send_data, counts, displs, recv_data, counts, displs, dtype);
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_to_all_v(
    const void* send_data, std::span<const std::size_t> send_counts, std::span<const std::size_t> send_displs,
    void* recv_data, std::span<const std::size_t> recv_counts, std::span<const std::size_t> recv_displs,
    CommDType dtype) {
  CudaDeviceGuard guard(device_);
  NcclGroup group;
  for (int r = 0; r < size(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (send_counts[i] > 0)
      ATTNSCALE_NCCL_CHECK(ncclSend(at(send_data, send_displs[i], dtype), send_counts[i], to_nccl(dtype), r,
                                    comm_->get(), stream_.get()));
    if (recv_counts[i] > 0)
      ATTNSCALE_NCCL_CHECK(ncclRecv(at(recv_data, recv_displs[i], dtype), recv_counts[i], to_nccl(dtype), r,
                                    comm_->get(), stream_.get()));
  }
  group.end();
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_broadcast(void* data, std::size_t count, CommDType dtype,
                                                             int root) {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(ncclBroadcast(data, data, count, to_nccl(dtype), root, comm_->get(), stream_.get()));
  return enqueued();
}

std::unique_ptr<PendingOp> NcclCommunicator::start_barrier() {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CHECK(ncclAllReduce(barrier_word_.get(), barrier_word_.get(), 1, ncclFloat32, ncclSum,
                                     comm_->get(), stream_.get()));
  return enqueued();
}

}  // namespace attnscale

#include "distributed/comm/nccl_communicator.h"

#include <chrono>
#include <climits>
#include <cstdint>
#include <limits>
#include <thread>
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

// Ends an NCCL group even when a call inside it throws. end() returns ncclGroupEnd's result,
// which in non-blocking mode may be ncclInProgress (see settle).
class NcclGroup {
 public:
  NcclGroup() { ATTNSCALE_NCCL_CHECK(ncclGroupStart()); }
  ncclResult_t end() {
    ended_ = true;
    return ncclGroupEnd();
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
// fires. NCCL cannot cancel one operation: abandoning it (its wait timed out) aborts the whole
// communicator (ncclCommAbort, which makes the stuck kernels return), and the op is gone with it.
class NcclPendingOp final : public PendingOp {
 public:
  NcclPendingOp(std::shared_ptr<NcclCommHandle> comm, cudaStream_t stream, std::function<void()> on_complete)
      : comm_(std::move(comm)), on_complete_(std::move(on_complete)) {
    ATTNSCALE_COMM_CUDA_CHECK(cudaEventRecord(event_.get(), stream));
  }

  bool test() override {
    if (done_) return true;
    if (comm_->get() == nullptr) throw RuntimeFailure("[nccl] the communicator was aborted");
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

  bool abandon() noexcept override {
    if (!done_) comm_->abort_now();
    return true;
  }

 private:
  std::shared_ptr<NcclCommHandle> comm_;
  CudaEvent event_;
  std::function<void()> on_complete_;
  bool done_ = false;
};

// Non-blocking: calls return ncclInProgress instead of blocking, so every wait is ours to bound.
ncclConfig_t nonblocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

// Polls a non-blocking call's result until NCCL settles it (success or error), for at most
// `timeout`; on expiry aborts the communicator. `where` names rank and communicator.
void settle(NcclCommHandle& comm, ncclResult_t result, const char* call, std::chrono::milliseconds timeout,
            const std::string& where, const std::string& step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (result == ncclInProgress) {
    if (std::chrono::steady_clock::now() >= deadline) {
      comm.abort_now();
      throw RuntimeFailure(fmt::format("[nccl] {}: {} did not finish within {:.1f} s at step '{}': a peer died or "
                                       "hangs; the NCCL communicator was aborted (ncclCommAbort)",
                                       where, call, std::chrono::duration<double>(timeout).count(), step));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    if (ncclCommGetAsyncError(comm.get(), &result) != ncclSuccess) break;
  }
  if (result != ncclSuccess) throw_nccl_error(call, __FILE__, __LINE__, result);
}

// Host buffers (metadata exchanges) through device memory on the communicator's device.
class DeviceStagingOfHost final : public BufferStaging {
 public:
  explicit DeviceStagingOfHost(int device) : device_(device) {}
  std::string describe() const override { return "host buffers staged through device memory"; }
  bool needs_staging(const void* data) const override {
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess) {
      cudaGetLastError();
      return true;
    }
    return attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged;
  }
  std::unique_ptr<StagingBlock> allocate(std::size_t bytes) const override {
    return std::make_unique<Block>(bytes, device_);
  }
  void into_block(void* block, const void* user, std::size_t bytes) const override {
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(block, user, bytes, cudaMemcpyHostToDevice));
  }
  void from_block(void* user, const void* block, std::size_t bytes) const override {
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(user, block, bytes, cudaMemcpyDeviceToHost));
  }

 private:
  struct Block final : StagingBlock {
    Block(std::size_t bytes, int device) : buffer(bytes, device) {}
    void* data() const override { return buffer.get(); }
    DeviceBuffer buffer;
  };
  int device_;
};

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
  ncclConfig_t config = nonblocking_config();
  ncclComm_t comm = nullptr;
  const ncclResult_t started = ncclCommInitRankConfig(&comm, bootstrap.size(), id, bootstrap.rank(), &config);
  NcclCommHandle handle(comm);
  settle(handle, started, "ncclCommInitRankConfig", bootstrap.timeout(),
         fmt::format("rank {} ({} of {})", bootstrap.rank(), bootstrap.name(), bootstrap.size()), bootstrap.step());
  return {std::move(handle), device};
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
      staging_(std::make_shared<DeviceStagingOfHost>(comm.device)),
      stream_(comm.device),
      barrier_word_(sizeof(float), comm.device) {}

NcclCommunicator::~NcclCommunicator() {
  // An abandoned NCCL kernel never finishes on its own: abort instead of waiting for it.
  if (settle_orphans(std::chrono::milliseconds(0)) > 0) comm_->abort_now();
}

std::size_t NcclCommunicator::max_count() const { return std::numeric_limits<std::size_t>::max() / 16; }
int NcclCommunicator::max_tag() const { return INT_MAX; }

ncclComm_t NcclCommunicator::ready() {
  if (comm_->get() == nullptr)
    throw RuntimeFailure(fmt::format("[nccl] rank {} of '{}': the communicator was aborted after a timed-out "
                                     "operation",
                                     rank(), name()));
  if (producer_ != nullptr) {
    ATTNSCALE_COMM_CUDA_CHECK(cudaEventRecord(producer_done_.get(), producer_));
    ATTNSCALE_COMM_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), producer_done_.get(), 0));
  }
  return comm_->get();
}

void NcclCommunicator::check_call(ncclResult_t result, const char* call) {
  settle(*comm_, result, call, timeout(), fmt::format("rank {} of '{}'", rank(), name()), step());
}

std::unique_ptr<PendingOp> NcclCommunicator::enqueued(std::function<void()> on_complete) {
  return std::make_unique<NcclPendingOp>(comm_, stream_.get(), std::move(on_complete));
}

std::unique_ptr<Communicator> NcclCommunicator::do_split(int color, int key, std::string name) {
  barrier();  // a bounded barrier first turns a dead peer into an error before the split
  CudaDeviceGuard guard(device_);
  ncclConfig_t config = nonblocking_config();
  ncclComm_t out = nullptr;
  const ncclResult_t started =
      ncclCommSplit(ready(), color == no_color ? NCCL_SPLIT_NOCOLOR : color, key, &out, &config);
  if (started != ncclSuccess && started != ncclInProgress) throw_nccl_error("ncclCommSplit", __FILE__, __LINE__, started);
  if (out == nullptr) return nullptr;
  NcclCommHandle handle(out);  // the new communicator settles on its own (non-blocking mode)
  settle(handle, started, "ncclCommSplit", timeout(), fmt::format("rank {} of '{}'", rank(), name), step());
  auto split = std::make_unique<NcclCommunicator>(Adopt{}, DeviceComm{std::move(handle), device_}, context(),
                                                  std::move(name), timeout());
  split->order_after(producer_);
  return split;
}

// Each start_ stages host buffers (StagedBuffers), enqueues on stream_ after the producer, settles
// the non-blocking call and tracks completion.
#define ATTNSCALE_NCCL_CALL(call) check_call((call), #call)

std::unique_ptr<PendingOp> NcclCommunicator::start_send(const void* data, std::size_t count, CommDType dtype,
                                                        int peer, int /*tag*/) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  const void* send = staged.in(data, count * dtype_size(dtype));
  ATTNSCALE_NCCL_CALL(ncclSend(send, count, to_nccl(dtype), peer, ready(), stream_.get()));
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_recv(void* data, std::size_t count, CommDType dtype, int peer,
                                                        int /*tag*/) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  void* recv = staged.out(data, count * dtype_size(dtype));
  ATTNSCALE_NCCL_CALL(ncclRecv(recv, count, to_nccl(dtype), peer, ready(), stream_.get()));
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_sendrecv(const void* send_data, std::size_t send_count,
                                                            int dest, void* recv_data, std::size_t recv_count,
                                                            int source, CommDType dtype, int /*tag*/) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, send_count * dtype_size(dtype));
  void* recv = staged.out(recv_data, recv_count * dtype_size(dtype));
  ncclComm_t comm = ready();
  NcclGroup group;
  if (send_count > 0) ATTNSCALE_NCCL_CALL(ncclSend(send, send_count, to_nccl(dtype), dest, comm, stream_.get()));
  if (recv_count > 0) ATTNSCALE_NCCL_CALL(ncclRecv(recv, recv_count, to_nccl(dtype), source, comm, stream_.get()));
  check_call(group.end(), "ncclGroupEnd (send/recv)");
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_reduce(void* data, std::size_t count, CommDType dtype,
                                                              ReduceOp op) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  void* buffer = staged.in_out(data, count * dtype_size(dtype));
  ATTNSCALE_NCCL_CALL(ncclAllReduce(buffer, buffer, count, to_nccl(dtype), to_nccl(op), ready(), stream_.get()));
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_reduce_loc(ValueIndex* data, std::size_t count, LocOp op) {
  // NCCL has no MAXLOC: gather every rank's pairs, reduce them on the host with the shared
  // reduce_loc (the same tie rule as MPI), copy the result back (to host or device memory).
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  const void* mine = staged.in(data, count * sizeof(ValueIndex));
  const std::size_t ranks = static_cast<std::size_t>(size());
  auto gathered = std::make_shared<DeviceBuffer>(count * ranks * sizeof(ValueIndex), device_);
  ATTNSCALE_NCCL_CALL(
      ncclAllGather(mine, gathered->get(), count * sizeof(ValueIndex), ncclUint8, ready(), stream_.get()));
  const int device = device_;
  return staged.wrap(enqueued([gathered, data, count, ranks, op, device] {
    CudaDeviceGuard inner(device);
    std::vector<ValueIndex> pairs(count * ranks);
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(pairs.data(), gathered->get(), gathered->bytes(), cudaMemcpyDeviceToHost));
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t r = 1; r < ranks; ++r) pairs[i] = reduce_loc(pairs[i], pairs[r * count + i], op);
    ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(data, pairs.data(), count * sizeof(ValueIndex), cudaMemcpyDefault));
  }));
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_gather(const void* send_data, std::size_t count,
                                                              void* recv_data, CommDType dtype) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, count * dtype_size(dtype));
  void* recv = staged.out(recv_data, count * static_cast<std::size_t>(size()) * dtype_size(dtype));
  ATTNSCALE_NCCL_CALL(ncclAllGather(send, recv, count, to_nccl(dtype), ready(), stream_.get()));
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_all_gather_v(const void* send_data, std::size_t send_count,
                                                                void* recv_data,
                                                                std::span<const std::size_t> recv_counts,
                                                                std::span<const std::size_t> recv_displs,
                                                                CommDType dtype) {
  // One broadcast per rank, grouped; every rank skips the same empty blocks.
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, send_count * dtype_size(dtype));
  void* recv = staged.out(recv_data, blocks_extent(recv_counts, recv_displs) * dtype_size(dtype));
  ncclComm_t comm = ready();
  NcclGroup group;
  for (int r = 0; r < size(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (recv_counts[i] == 0) continue;
    ATTNSCALE_NCCL_CALL(ncclBroadcast(send, at(recv, recv_displs[i], dtype), recv_counts[i], to_nccl(dtype), r,
                                      comm, stream_.get()));
  }
  check_call(group.end(), "ncclGroupEnd (all_gather_v)");
  return staged.wrap(enqueued());
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
  StagedBuffers staged(staging_);
  const void* send = staged.in(send_data, blocks_extent(send_counts, send_displs) * dtype_size(dtype));
  void* recv = staged.out(recv_data, blocks_extent(recv_counts, recv_displs) * dtype_size(dtype));
  ncclComm_t comm = ready();
  NcclGroup group;
  for (int r = 0; r < size(); ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (send_counts[i] > 0)
      ATTNSCALE_NCCL_CALL(
          ncclSend(at(send, send_displs[i], dtype), send_counts[i], to_nccl(dtype), r, comm, stream_.get()));
    if (recv_counts[i] > 0)
      ATTNSCALE_NCCL_CALL(
          ncclRecv(at(recv, recv_displs[i], dtype), recv_counts[i], to_nccl(dtype), r, comm, stream_.get()));
  }
  check_call(group.end(), "ncclGroupEnd (all_to_all_v)");
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_broadcast(void* data, std::size_t count, CommDType dtype,
                                                             int root) {
  CudaDeviceGuard guard(device_);
  StagedBuffers staged(staging_);
  void* buffer = staged.in_out(data, count * dtype_size(dtype));
  ATTNSCALE_NCCL_CALL(ncclBroadcast(buffer, buffer, count, to_nccl(dtype), root, ready(), stream_.get()));
  return staged.wrap(enqueued());
}

std::unique_ptr<PendingOp> NcclCommunicator::start_barrier() {
  CudaDeviceGuard guard(device_);
  ATTNSCALE_NCCL_CALL(
      ncclAllReduce(barrier_word_.get(), barrier_word_.get(), 1, ncclFloat32, ncclSum, ready(), stream_.get()));
  return enqueued();
}

#undef ATTNSCALE_NCCL_CALL

}  // namespace attnscale

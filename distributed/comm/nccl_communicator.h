// NcclCommunicator: Communicator over NCCL, device memory (compiled only when CUDA and NCCL are
// found: ATTNSCALE_HAVE_NCCL). Bootstrapped over MPI: rank 0 of the bootstrap communicator
// creates the NCCL unique id and broadcasts it (bounded by the bootstrap's timeout); each rank
// uses device (local rank on its node) mod (visible devices). NCCL runs in its non-blocking mode,
// so every call, the initialisation included, returns at once and is polled: waits time out as
// with MPI (parallel.timeout_s), and a timed-out operation aborts the communicator
// (ncclCommAbort), after which it refuses work; the error names rank, operation and step.
// Every operation is enqueued on the communicator's own stream (a second stream beside the
// compute stream) and tracked by an event. With order_after(producer) set, that stream first
// waits for the work queued on `producer` (the compute stream that wrote the buffers); without
// it, buffers must be ready before the call. Host buffers (small metadata exchanges) are staged
// through device memory (buffer_staging.h).
// Tags are ignored: NCCL matches point-to-point messages in order per peer. Use isendrecv for a
// ring step: NCCL serialises a communicator's operations, so a lone recv ahead of its send
// deadlocks.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <functional>
#include <memory>
#include <string>

#include "distributed/comm/communicator.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/nccl_handles.h"

namespace attnscale {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `bootstrap`; the new communicator has its ranks and joins its family (step
  // label, fault plan, operation count).
  explicit NcclCommunicator(MpiCommunicator& bootstrap, std::string name = "nccl");
  ~NcclCommunicator() override;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_.get(); }
  ncclComm_t handle() const { return comm_->get(); }
  // Every later operation waits (on the GPU, by an event) for the work queued on `producer` when
  // it is enqueued. Copied by split().
  void order_after(cudaStream_t producer) { producer_ = producer; }
  std::string_view backend() const override { return "nccl"; }
  bool uses_device_memory() const override { return true; }

 private:
  struct Adopt {};  // passkey: only split() adopts an existing NCCL communicator

 public:
  // An NCCL communicator and the device it was created on.
  struct DeviceComm {
    NcclCommHandle comm;
    int device = 0;
  };
  NcclCommunicator(Adopt, DeviceComm comm, std::shared_ptr<CommContext> context, std::string name,
                   std::chrono::milliseconds timeout);

 private:
  std::size_t max_count() const override;
  int max_tag() const override;
  bool can_reduce(CommDType) const override { return true; }
  std::unique_ptr<Communicator> do_split(int color, int key, std::string name) override;
  std::unique_ptr<PendingOp> start_send(const void* data, std::size_t count, CommDType dtype, int peer,
                                        int tag) override;
  std::unique_ptr<PendingOp> start_recv(void* data, std::size_t count, CommDType dtype, int peer,
                                        int tag) override;
  std::unique_ptr<PendingOp> start_sendrecv(const void* send_data, std::size_t send_count, int dest,
                                            void* recv_data, std::size_t recv_count, int source,
                                            CommDType dtype, int tag) override;
  std::unique_ptr<PendingOp> start_all_reduce(void* data, std::size_t count, CommDType dtype,
                                              ReduceOp op) override;
  std::unique_ptr<PendingOp> start_all_reduce_loc(ValueIndex* data, std::size_t count, LocOp op) override;
  std::unique_ptr<PendingOp> start_all_gather(const void* send_data, std::size_t count, void* recv_data,
                                              CommDType dtype) override;
  std::unique_ptr<PendingOp> start_all_gather_v(const void* send_data, std::size_t send_count,
                                                void* recv_data, std::span<const std::size_t> recv_counts,
                                                std::span<const std::size_t> recv_displs,
                                                CommDType dtype) override;
  std::unique_ptr<PendingOp> start_all_to_all(const void* send_data, void* recv_data,
                                              std::size_t count_per_rank, CommDType dtype) override;
  std::unique_ptr<PendingOp> start_all_to_all_v(const void* send_data, std::span<const std::size_t> send_counts,
                                                std::span<const std::size_t> send_displs, void* recv_data,
                                                std::span<const std::size_t> recv_counts,
                                                std::span<const std::size_t> recv_displs,
                                                CommDType dtype) override;
  std::unique_ptr<PendingOp> start_broadcast(void* data, std::size_t count, CommDType dtype,
                                             int root) override;
  std::unique_ptr<PendingOp> start_barrier() override;

  // The live NCCL communicator, with stream_ ordered after the producer; throws once aborted.
  ncclComm_t ready();
  // Settles a non-blocking call (nccl_communicator.cpp: settle), bounded by timeout().
  void check_call(ncclResult_t result, const char* call);
  // Records completion of what was just enqueued on stream_.
  std::unique_ptr<PendingOp> enqueued(std::function<void()> on_complete = {});

  int device_ = 0;
  cudaStream_t producer_ = nullptr;
  // Shared with the operations in flight, so that a request outliving its communicator still
  // polls a live NCCL communicator.
  std::shared_ptr<NcclCommHandle> comm_;
  std::shared_ptr<const BufferStaging> staging_;  // host buffers through device memory
  CudaStream stream_;
  CudaEvent producer_done_;
  DeviceBuffer barrier_word_;
};

}  // namespace attnscale

// MpiCommunicator: Communicator over MPI, host memory. Every operation is non-blocking MPI
// (MPI_Isend, MPI_Iallreduce, ...) so that every wait can time out (see Request).
//
//   MpiEnvironment mpi(&argc, &argv);      // MPI_Init_thread (works without mpirun: 1 rank)
//   MpiCommunicator world;                 // a duplicate of MPI_COMM_WORLD, settings from the env
//   world.set_step("train step 12");
//   world.all_reduce(grads, ReduceOp::sum);
//
// With a BufferStaging (buffer_staging.h) it also takes device buffers: they travel through
// pinned host memory (MPI here is not CUDA-aware); host buffers still go to MPI directly.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "distributed/comm/buffer_staging.h"
#include "distributed/comm/comm_settings.h"
#include "distributed/comm/communicator.h"
#include "distributed/comm/mpi_loc_reduction.h"

namespace attnscale {

// Owns one MPI_Comm; frees it unless MPI is already finalised.
class MpiCommHandle {
 public:
  MpiCommHandle() = default;
  explicit MpiCommHandle(MPI_Comm comm) : comm_(comm) {}
  MpiCommHandle(MpiCommHandle&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
  MpiCommHandle& operator=(MpiCommHandle&& other) noexcept;
  MpiCommHandle(const MpiCommHandle&) = delete;
  MpiCommHandle& operator=(const MpiCommHandle&) = delete;
  ~MpiCommHandle() { reset(); }

  MPI_Comm get() const { return comm_; }
  void reset() noexcept;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

class MpiCommunicator final : public Communicator {
 public:
  // Duplicates `comm` (so that attnscale's messages never match the caller's) and becomes the root
  // of a family: communicators split from it share its step label and fault plan. MPI must be
  // initialised (MpiEnvironment); UsageError otherwise.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD,
                           const CommSettings& settings = CommSettings::from_env(),
                           std::string name = "world");
  // Collective over `from`: a duplicate of it in its family whose operations also take the
  // buffers `staging` reaches (device memory through pinned host memory).
  MpiCommunicator(const MpiCommunicator& from, std::shared_ptr<const BufferStaging> staging, std::string name);
  ~MpiCommunicator() override;

  MPI_Comm handle() const { return comm_.get(); }  // for MPI-aware libraries (parallel HDF5)
  std::string_view backend() const override { return "mpi"; }
  bool uses_device_memory() const override { return staging_ != nullptr; }
  const BufferStaging* staging() const { return staging_.get(); }

 private:
  struct Adopt {};  // passkey: only split() adopts an existing communicator

 public:
  MpiCommunicator(Adopt, MpiCommHandle comm, std::shared_ptr<CommContext> context, std::string name,
                  std::chrono::milliseconds timeout, std::shared_ptr<const BufferStaging> staging = nullptr);

 private:

  std::size_t max_count() const override;
  int max_tag() const override { return max_tag_; }
  // MPI has no 16-bit float type: f16/bf16 travel as words but cannot be reduced.
  bool can_reduce(CommDType dtype) const override {
    return dtype != CommDType::f16 && dtype != CommDType::bf16;
  }
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

  MpiCommHandle comm_;
  std::shared_ptr<const BufferStaging> staging_;  // null: host buffers only
  int max_tag_ = 32767;
  MpiLocReduction loc_;
};

}  // namespace attnscale

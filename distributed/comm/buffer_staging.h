// BufferStaging: how a communicator reaches buffers its transport cannot read. MPI (not CUDA-aware
// here) moves device buffers through pinned host memory; NCCL moves host buffers (the small
// metadata exchanges: segment summaries, token ids) through device memory. The backend asks
// needs_staging() per buffer, so every algorithm hands its pointers over as they are, host or
// device, through one Communicator.
//
// StagedBuffers gathers one operation's staged buffers: inputs are copied into their blocks before
// the transport starts, outputs copied back when the operation completes (StagedOp), and the
// blocks live exactly as long as the operation (RAII: an abandoned op frees them when the
// transport lets go of it).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distributed/comm/pending_op.h"

namespace attnscale {

// Memory a transport can read, owned by whoever allocated it.
class StagingBlock {
 public:
  virtual ~StagingBlock() = default;
  virtual void* data() const = 0;
};

class BufferStaging {
 public:
  virtual ~BufferStaging() = default;
  // "device buffers staged through pinned host memory", for the log.
  virtual std::string describe() const = 0;
  // True when the transport cannot use `data` directly.
  virtual bool needs_staging(const void* data) const = 0;
  virtual std::unique_ptr<StagingBlock> allocate(std::size_t bytes) const = 0;
  // Copies that return once the bytes are at `to` (ordered after the work that produced `from`).
  virtual void into_block(void* block, const void* user, std::size_t bytes) const = 0;
  virtual void from_block(void* user, const void* block, std::size_t bytes) const = 0;
};

class StagedBuffers {
 public:
  // `staging` may be null: every buffer is then used as it is.
  explicit StagedBuffers(std::shared_ptr<const BufferStaging> staging) : staging_(std::move(staging)) {}

  const void* in(const void* user, std::size_t bytes);  // read by the transport
  void* out(void* user, std::size_t bytes);             // written by the transport
  void* in_out(void* user, std::size_t bytes);          // both (in-place collectives)

  // The operation with the outputs copied back on completion; `op` itself when nothing was staged.
  std::unique_ptr<PendingOp> wrap(std::unique_ptr<PendingOp> op);

 private:
  struct CopyBack {
    void* user;
    const StagingBlock* block;
    std::size_t bytes;
  };
  void* stage(const void* user, std::size_t bytes, bool copy_in);

  std::shared_ptr<const BufferStaging> staging_;  // shared with the ops, which may outlive their communicator
  std::vector<std::unique_ptr<StagingBlock>> blocks_;
  std::vector<CopyBack> copy_back_;
};

}  // namespace attnscale

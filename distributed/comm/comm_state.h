// The per-communicator state that its requests share (they may outlive a moved-from handle):
// identity for messages, counters, the wait timeout, the operations in flight for progress(), and
// abandoned operations that could not be cancelled. Used from one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "distributed/comm/comm_context.h"
#include "distributed/comm/comm_stats.h"
#include "distributed/comm/pending_op.h"

namespace attnscale {

struct CommState {
  CommState(std::shared_ptr<CommContext> context_, std::string name_, int rank_, int size_,
            std::chrono::milliseconds timeout_)
      : context(std::move(context_)), name(std::move(name_)), rank(rank_), size(size_), timeout(timeout_) {}

  const std::shared_ptr<CommContext> context;
  const std::string name;
  const int rank;
  const int size;
  std::chrono::milliseconds timeout;
  CommStats stats;
  std::vector<PendingOp*> in_flight;
  std::vector<std::unique_ptr<PendingOp>> orphans;
  std::string broken;  // why the communicator can no longer be used; empty while it can

  // "rank 2 (ring rank 1 of 2)": the root (world) rank first, so the line can be found in the logs.
  std::string where() const;
};

}  // namespace attnscale

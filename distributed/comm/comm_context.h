// What a root communicator shares with every communicator split from it: the caller's step label
// (named in timeout messages) and the operation count that fault injection keys on. Thread-safe:
// a training loop may set the step while a communication thread waits. (The timeout is per
// communicator, copied at split: see CommState.)
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "distributed/comm/fault_injection.h"
#include "distributed/comm/op_info.h"

namespace attnscale {

class CommContext {
 public:
  // root_rank: this process's rank in the root communicator (world, normally).
  CommContext(const FaultPlan& fault, int root_rank);

  int root_rank() const { return root_rank_; }

  std::string step() const;
  void set_step(std::string step);

  // Counts one started operation; on the planned rank at the planned count, injects the fault
  // (never returns then). Cheap otherwise: one atomic increment.
  void count_operation(const OpInfo& op);

 private:
  const int root_rank_;
  const FaultPlan fault_;
  std::atomic<std::int64_t> operations_{0};
  mutable std::mutex step_mutex_;
  std::string step_;
};

}  // namespace attnscale

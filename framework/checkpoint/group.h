// The ranks that save or load a checkpoint together, and what they must agree on: whether every
// rank succeeded (each rank learns the first failure, so all of them stop the same way) and small
// per-rank records. Without a communicator (tools, one-process tests) the group is one rank.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "distributed/comm/communicator.h"

namespace attnscale::checkpoint {

// A failure caught on one rank: its message and the exit code its error class maps to.
struct Failure {
  int exit_code = 0;  // 0: no failure
  std::string message;
  int rank = 0;  // the rank it happened on

  explicit operator bool() const { return exit_code != 0; }
};

// Runs local work (no collectives inside) and catches what it throws.
Failure capture(const std::function<void()>& work, int rank);
// Throws an error of the class that `failure.exit_code` names (CheckpointError for 4, ...).
[[noreturn]] void throw_failure(const Failure& failure, const std::string& message);

class CheckpointGroup {
 public:
  explicit CheckpointGroup(Communicator* comm = nullptr) : comm_(comm) {}

  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }

  // Collective. The lowest failing rank's failure, on every rank (no failure when all succeeded).
  Failure first_failure(const Failure& mine);
  // Collective. Runs `work` on every rank (or rank 0 only); when any rank fails, every rank throws
  // the first failure's error class and message. One rank alone lets the exception through as is.
  void run_agreed(const std::function<void()>& work, bool rank0_only = false);
  // Collective. Every rank's values (the lengths may differ), in rank order.
  std::vector<std::vector<std::uint64_t>> all_gather(std::span<const std::uint64_t> values);
  // Collective. Rank 0's text, on every rank.
  std::string broadcast(std::string text);

 private:
  Communicator* comm_;
};

}  // namespace attnscale::checkpoint

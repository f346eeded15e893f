// Fault injection for testing how a job ends when a rank dies or hangs mid-run.
// Set on the command line of every rank (mpirun passes the environment on):
//   ATTNSCALE_FAULT_KILL_RANK=r   the rank (in the root communicator, normally world) that fails
//   ATTNSCALE_FAULT_AT_OP=n       it fails when it starts its n-th communicator operation (1-based,
//                                 counted over the root communicator and every split of it)
//   ATTNSCALE_FAULT_MODE=kill     SIGKILL itself, like a crashed node (default);
//                       hang     stop communicating forever, like a stuck rank: the other ranks'
//                                waits then time out and end the job (see run_job).
#pragma once

#include <cstdint>
#include <string_view>

namespace attnscale {

enum class FaultMode { kill, hang };

struct FaultPlan {
  int rank = -1;  // -1: no fault
  std::int64_t at_op = 1;
  FaultMode mode = FaultMode::kill;

  bool enabled() const { return rank >= 0; }
};

// Logs what it does, then kills or hangs this process; never returns.
[[noreturn]] void inject_fault(const FaultPlan& plan, std::string_view op_description,
                               std::string_view step);

}  // namespace attnscale

#include "distributed/comm/fault_injection.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "base/logging.h"

namespace attnscale {

void inject_fault(const FaultPlan& plan, std::string_view op_description, std::string_view step) {
  const bool kill = plan.mode == FaultMode::kill;
  LOG_ERROR("[fault] injected fault: rank {} {} at communicator operation {} ({}, step '{}')",
            plan.rank, kill ? "killed" : "hangs", plan.at_op, op_description, step);
  logger().flush();
  std::fflush(stdout);
  std::fflush(stderr);
  if (kill) std::raise(SIGKILL);
  // hang: stay alive without communicating until the job is torn down around us.
  for (;;) pause();
}

}  // namespace attnscale

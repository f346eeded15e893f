// Settings shared by a root communicator and every communicator split from it: the wait timeout
// and the fault-injection plan. Defaults < environment < API (Communicator::set_timeout).
#pragma once

#include <chrono>
#include <functional>

#include "distributed/comm/fault_injection.h"

namespace attnscale {

struct CommSettings {
  // Every wait gives up after this long (DESIGN.md 5): long enough for a slow step, short enough
  // that a dead peer ends the job instead of burning a reservation.
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  FaultPlan fault;

  // Reads ATTNSCALE_COMM_TIMEOUT_S (seconds, may be fractional) and the ATTNSCALE_FAULT_* variables
  // (distributed/comm/fault_injection.h). A malformed value is a ConfigError naming the variable.
  static CommSettings from_env();
  // The same with an injected lookup, for tests.
  static CommSettings from_lookup(const std::function<const char*(const char*)>& lookup);
};

}  // namespace attnscale

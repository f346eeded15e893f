// Settings shared by a root communicator and every communicator split from it: the wait timeout
// and the fault-injection plan. Defaults < the caller's base (parallel.timeout_s for train and
// eval) < environment < API (Communicator::set_timeout).
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

  // `base` with what the environment overrides: ATTNSCALE_COMM_TIMEOUT_S (seconds, may be
  // fractional) and the ATTNSCALE_FAULT_* variables (distributed/comm/fault_injection.h). A
  // malformed value is a ConfigError naming the variable.
  static CommSettings from_env(const CommSettings& base);
  static CommSettings from_env();  // over the defaults
  // The same with an injected lookup, for tests.
  static CommSettings from_lookup(const std::function<const char*(const char*)>& lookup,
                                  const CommSettings& base);
  static CommSettings from_lookup(const std::function<const char*(const char*)>& lookup);
};

inline CommSettings CommSettings::from_env() { return from_env(CommSettings{}); }
inline CommSettings CommSettings::from_lookup(const std::function<const char*(const char*)>& lookup) {
  return from_lookup(lookup, CommSettings{});
}

// A timeout of `seconds` (> 0), rounded up to whole milliseconds and capped at a year (a longer
// wait is the same as none, and would overflow the clock).
std::chrono::milliseconds timeout_from_seconds(double seconds);

}  // namespace attnscale

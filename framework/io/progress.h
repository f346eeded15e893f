// Training progress on rank 0: "step 120/500 (24%) | loss 2.3456 | 12.3k tok/s | ETA 1m23s".
// Every log_every steps (and at the last step) that line goes to the log, so files and pipes get
// plain periodic lines. On a terminal a live copy of it is also redrawn in place at the bottom;
// while it is shown, log lines clear it first and redraw it after, so the two never interleave.
//   logging.progress = auto: live on a terminal; on: live always; off: no progress output at all.
// Create and destroy it while no other thread logs: it adds hooks to the logger's sink list.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "framework/config/config.h"

namespace attnscale {

// A formatted progress line; eta_s < 0 prints "ETA --". Non-finite loss or throughput print "-".
std::string format_progress(std::int64_t step, std::int64_t total_steps, double loss, double tokens_per_s,
                            double eta_s);
std::string format_duration(double seconds);  // "12s", "3m05s", "2h07m"

class ProgressLine {
 public:
  // Only rank 0 shows anything. The live line goes to `terminal`, which also decides what a
  // terminal is for mode auto.
  ProgressLine(std::int64_t total_steps, std::int64_t log_every, config::ProgressMode mode, int rank,
               std::FILE* terminal = stderr);
  ~ProgressLine();  // removes the live line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Called once per optimizer step (step counts from 1 to total_steps).
  void update(std::int64_t step, double loss, double tokens_per_s);

  bool live() const { return live_ != nullptr; }

  class LiveLine;  // the terminal state shared with the logger hooks

 private:
  using Clock = std::chrono::steady_clock;

  std::int64_t total_steps_;
  std::int64_t log_every_;
  bool enabled_;
  std::shared_ptr<LiveLine> live_;
  std::optional<std::pair<std::int64_t, Clock::time_point>> first_update_;  // for the ETA
  Clock::time_point last_draw_{};
};

}  // namespace attnscale

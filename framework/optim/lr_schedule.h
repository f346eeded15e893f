// Learning-rate schedules as pure functions of the update number, so a resumed run gets the same
// value as an uninterrupted one without saving any schedule state.
//
// With t the 1-based number of the update about to be applied (the optimizer step count after it),
// W = warmup_steps, T = total_steps, lo = min_lr_ratio * base_lr:
//   t <= W          base_lr * t / W                         (linear warm-up, reaches base_lr at t = W)
//   then, with progress = clamp((t - W) / (T - W), 0, 1):
//     constant      base_lr
//     cosine        lo + (base_lr - lo) * (1 + cos(pi * progress)) / 2
//     linear        lo + (base_lr - lo) * (1 - progress)
//     inverse_sqrt  max(lo, base_lr * sqrt(max(W, 1) / t))  (T is not used)
// cosine and linear reach lo at t = T and stay there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnscale {

enum class LrDecay { constant, cosine, linear, inverse_sqrt };

std::string_view lr_decay_name(LrDecay decay);
// Parses "constant", "cosine", "linear" or "inverse_sqrt"; throws ConfigError listing them.
LrDecay lr_decay_from_name(std::string_view name);

struct LrScheduleOptions {
  double base_lr = 1e-3;
  LrDecay decay = LrDecay::constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;    // cosine and linear: the step at which lo is reached (> warmup_steps)
  double min_lr_ratio = 0.0;  // in [0, 1]
};

class LrSchedule {
 public:
  // Throws UsageError("[lr_schedule] ...") on inconsistent options.
  explicit LrSchedule(const LrScheduleOptions& options);

  // The learning rate for update number `step` (1-based, >= 1).
  double lr(int64_t step) const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

}  // namespace attnscale

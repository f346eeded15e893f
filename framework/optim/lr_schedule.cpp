#include "framework/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "base/error.h"

namespace attnscale {

std::string_view lr_decay_name(LrDecay decay) {
  switch (decay) {
    case LrDecay::constant: return "constant";
    case LrDecay::cosine: return "cosine";
    case LrDecay::linear: return "linear";
    case LrDecay::inverse_sqrt: return "inverse_sqrt";
  }
  return "?";
}

LrDecay lr_decay_from_name(std::string_view name) {
  for (LrDecay d : {LrDecay::constant, LrDecay::cosine, LrDecay::linear, LrDecay::inverse_sqrt})
    if (lr_decay_name(d) == name) return d;
  throw ConfigError(
      fmt::format("[lr_schedule] unknown decay '{}'; expected constant, cosine, linear or inverse_sqrt", name));
}

LrSchedule::LrSchedule(const LrScheduleOptions& o) : options_(o) {
  const char* where = "lr_schedule";
  ATTNSCALE_CHECK(std::isfinite(o.base_lr) && o.base_lr >= 0, where, "base_lr = {} must be finite and >= 0",
                  o.base_lr);
  ATTNSCALE_CHECK(o.warmup_steps >= 0, where, "warmup_steps = {} must be >= 0", o.warmup_steps);
  ATTNSCALE_CHECK(o.min_lr_ratio >= 0 && o.min_lr_ratio <= 1, where, "min_lr_ratio = {} must be in [0, 1]",
                  o.min_lr_ratio);
  if (o.decay == LrDecay::cosine || o.decay == LrDecay::linear)
    ATTNSCALE_CHECK(o.total_steps > o.warmup_steps, where,
                    "{} decay needs total_steps ({}) > warmup_steps ({}): the step where the decay ends",
                    lr_decay_name(o.decay), o.total_steps, o.warmup_steps);
}

double LrSchedule::lr(int64_t step) const {
  ATTNSCALE_CHECK(step >= 1, "lr_schedule", "step {} is not a 1-based update number", step);
  const LrScheduleOptions& o = options_;
  const double t = static_cast<double>(step), warmup = static_cast<double>(o.warmup_steps);
  if (step <= o.warmup_steps) return o.base_lr * t / warmup;
  const double lo = o.min_lr_ratio * o.base_lr;
  const auto progress = [&] {
    return std::clamp((t - warmup) / (static_cast<double>(o.total_steps) - warmup), 0.0, 1.0);
  };
  switch (o.decay) {
    case LrDecay::constant: return o.base_lr;
    case LrDecay::cosine: return lo + (o.base_lr - lo) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress()));
    case LrDecay::linear: return lo + (o.base_lr - lo) * (1.0 - progress());
    case LrDecay::inverse_sqrt: return std::max(lo, o.base_lr * std::sqrt(std::max(warmup, 1.0) / t));
  }
  return o.base_lr;
}

}  // namespace attnscale

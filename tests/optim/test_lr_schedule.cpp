// LR schedules: values at the warm-up boundary, through the decay and past its end, and option errors.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "base/error.h"
#include "framework/optim/lr_schedule.h"

namespace attnscale {
namespace {

LrSchedule make(LrDecay decay, int64_t warmup, int64_t total, double min_ratio = 0.0) {
  return LrSchedule({.base_lr = 0.5, .decay = decay, .warmup_steps = warmup, .total_steps = total,
                     .min_lr_ratio = min_ratio});
}

TEST(LrSchedule, WarmupIsLinearAndReachesBaseAtItsLastStep) {
  for (LrDecay decay : {LrDecay::constant, LrDecay::cosine, LrDecay::linear, LrDecay::inverse_sqrt}) {
    const LrSchedule s = make(decay, 4, 20, 0.1);
    EXPECT_DOUBLE_EQ(s.lr(1), 0.125) << lr_decay_name(decay);
    EXPECT_DOUBLE_EQ(s.lr(2), 0.25) << lr_decay_name(decay);
    EXPECT_DOUBLE_EQ(s.lr(4), 0.5) << lr_decay_name(decay);
    EXPECT_LE(s.lr(5), 0.5) << lr_decay_name(decay);  // the decay starts after the warm-up
  }
}

TEST(LrSchedule, Constant) {
  const LrSchedule s = make(LrDecay::constant, 0, 0);
  EXPECT_EQ(s.lr(1), 0.5);
  EXPECT_EQ(s.lr(1000000), 0.5);
}

TEST(LrSchedule, CosineFromWarmupEndToMinimum) {
  const LrSchedule s = make(LrDecay::cosine, 10, 110, 0.1);  // decays over 100 steps to 0.05
  EXPECT_DOUBLE_EQ(s.lr(10), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(11), 0.05 + 0.45 * 0.5 * (1 + std::cos(std::numbers::pi * 0.01)));
  EXPECT_DOUBLE_EQ(s.lr(60), 0.275);  // halfway: the mean of base and minimum
  EXPECT_DOUBLE_EQ(s.lr(110), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(111), 0.05);
  EXPECT_DOUBLE_EQ(s.lr(5000), 0.05);
}

TEST(LrSchedule, LinearFromWarmupEndToMinimum) {
  const LrSchedule s = make(LrDecay::linear, 10, 110, 0.0);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(35), 0.375);
  EXPECT_DOUBLE_EQ(s.lr(60), 0.25);
  EXPECT_NEAR(s.lr(109), 0.005, 1e-15);  // 0.5 * (1 - 0.99) rounds
  EXPECT_EQ(s.lr(110), 0.0);
  EXPECT_EQ(s.lr(200), 0.0);
}

TEST(LrSchedule, InverseSqrtAfterWarmupWithFloor) {
  const LrSchedule s = make(LrDecay::inverse_sqrt, 16, 0, 0.2);
  EXPECT_DOUBLE_EQ(s.lr(16), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(64), 0.25);        // 0.5 * sqrt(16 / 64)
  EXPECT_DOUBLE_EQ(s.lr(400), 0.1);        // 0.5 * sqrt(16 / 400) = 0.1, the floor
  EXPECT_DOUBLE_EQ(s.lr(100000), 0.1);     // held at min_lr_ratio * base_lr
  const LrSchedule no_warmup = make(LrDecay::inverse_sqrt, 0, 0);
  EXPECT_DOUBLE_EQ(no_warmup.lr(1), 0.5);
  EXPECT_DOUBLE_EQ(no_warmup.lr(4), 0.25);
}

TEST(LrSchedule, IsAPureFunctionOfTheStep) {
  const LrSchedule s = make(LrDecay::cosine, 5, 50, 0.1);
  const double at_30 = s.lr(30);
  for (int64_t t = 1; t <= 50; ++t) s.lr(t);
  EXPECT_EQ(s.lr(30), at_30);
  EXPECT_EQ(make(LrDecay::cosine, 5, 50, 0.1).lr(30), at_30);  // a "resumed" schedule
}

TEST(LrSchedule, InvalidOptionsAndSteps) {
  const auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const UsageError& e) {
      return e.what();
    }
    return "(no error)";
  };
  std::string msg = message([] { make(LrDecay::cosine, 10, 10); });
  EXPECT_NE(msg.find("[lr_schedule] cosine decay needs total_steps (10) > warmup_steps (10)"), std::string::npos)
      << msg;
  msg = message([] { make(LrDecay::linear, 0, 100, 1.5); });
  EXPECT_NE(msg.find("min_lr_ratio = 1.5 must be in [0, 1]"), std::string::npos) << msg;
  msg = message([] { make(LrDecay::constant, -1, 0); });
  EXPECT_NE(msg.find("warmup_steps = -1"), std::string::npos) << msg;
  msg = message([] { make(LrDecay::constant, 0, 0).lr(0); });
  EXPECT_NE(msg.find("step 0 is not a 1-based update number"), std::string::npos) << msg;
  EXPECT_THROW(LrSchedule({.base_lr = -1, .decay = LrDecay::constant, .warmup_steps = 0, .total_steps = 0,
                           .min_lr_ratio = 0}),
               UsageError);
}

TEST(LrSchedule, DecayNames) {
  for (LrDecay decay : {LrDecay::constant, LrDecay::cosine, LrDecay::linear, LrDecay::inverse_sqrt})
    EXPECT_EQ(lr_decay_from_name(lr_decay_name(decay)), decay);
  try {
    lr_decay_from_name("exponential");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown decay 'exponential'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnscale

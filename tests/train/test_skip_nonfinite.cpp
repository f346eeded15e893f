// train.skip_nonfinite_steps on one rank: a step with a NaN loss or gradient is skipped without an
// update while the budget lasts, and the run stops with a message naming the step and the tensor
// once it is used up (at the first when it is 0, the default).
#include <gtest/gtest.h>

#include <cmath>

#include "base/threads.h"
#include "framework/config/config.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/train/poisoned_task.h"

namespace attnscale {
namespace {

Config tiny_config(int64_t budget) {
  set_thread_count(1);
  Config cfg = test::tiny_lm_config(1, budget);
  cfg.train.steps = 5;
  return cfg;
}

bool all_finite(const std::vector<double>& values) {
  for (const double v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

std::string stop_message(const Config& cfg, test::PoisonedTask& task) {
  try {
    train::Trainer(cfg, task, nullptr, 0).run();
  } catch (const train::NonFiniteStep& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::failure);
    return e.what();
  }
  return "(the run did not stop)";
}

TEST(SkipNonFinite, SkippedStepsLeaveTheParametersAsTheyWere) {
  for (const test::Poison poison : {test::Poison::gradient, test::Poison::loss}) {
    const Config cfg = tiny_config(2);
    train::LMTask inner(cfg);
    test::PoisonedTask task(inner, {1, 3}, poison);  // batches 1 and 3 are steps 2 and 4
    const train::TrainSummary s = train::Trainer(cfg, task, nullptr, 0).run();
    EXPECT_EQ(s.steps, 5);
    EXPECT_EQ(s.skipped_steps, (std::vector<int64_t>{2, 4}));
    EXPECT_EQ(s.losses.size(), 3u);
    const auto& before = task.params_before();
    ASSERT_EQ(before.size(), 5u);
    EXPECT_EQ(before[2], before[1]) << "step 2 was skipped but changed the parameters";
    EXPECT_EQ(before[4], before[3]) << "step 4 was skipped but changed the parameters";
    EXPECT_NE(before[1], before[0]) << "step 1 did not update";
    EXPECT_TRUE(all_finite(task.flat_parameters()));
  }
}

TEST(SkipNonFinite, TheDefaultStopsAtTheFirstNamingTheStepAndTheParameter) {
  const Config cfg = tiny_config(0);
  train::LMTask inner(cfg);
  test::PoisonedTask task(inner, {2});
  const std::string what = stop_message(cfg, task);
  EXPECT_NE(what.find("[train] step 3: non-finite loss or gradient and train.skip_nonfinite_steps = 0: the run stops "
                      "(rank 0: [train] the gradient of parameter '" +
                      inner.model().named_parameters().front().name + "'"),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("holds"), std::string::npos) << what;
}

TEST(SkipNonFinite, TheRunStopsWhenTheBudgetIsUsedUp) {
  const Config cfg = tiny_config(1);
  train::LMTask inner(cfg);
  test::PoisonedTask task(inner, {0, 3}, test::Poison::loss);
  const std::string what = stop_message(cfg, task);
  EXPECT_NE(what.find("[train] step 4: non-finite loss or gradient and all train.skip_nonfinite_steps = 1 skips are "
                      "used: the run stops (rank 0: [train] the loss on this rank is nan)"),
            std::string::npos)
      << what;
}

}  // namespace
}  // namespace attnscale

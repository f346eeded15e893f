// The TransformerLM learns the synthetic copy task: a stated accuracy in a bounded number of steps.
#include <gtest/gtest.h>

#include "framework/config/config.h"
#include "framework/data/synthetic.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/train/small_copy_config.h"

namespace attnscale {
namespace {

TEST(TrainLM, LearnsCopyTaskWithFusedAttention) {
  const Config cfg = small_copy_config();
  train::LMTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const train::TrainSummary s = trainer.run();
  EXPECT_LT(s.last_loss, 0.2 * s.first_loss);
  // Chance is 1/15; the stated target is 95% of copied tokens right on held-out sequences.
  EXPECT_GE(s.final_eval.accuracy, 0.95) << "eval loss " << s.final_eval.loss;
}

TEST(TrainLM, PlainAndFusedAttentionTrainTheSameModel) {
  Config cfg = small_copy_config();
  cfg.train.steps = 5;
  cfg.attention.impl = config::AttentionImpl::plain;
  train::LMTask plain_task(cfg);
  const auto plain = train::Trainer(cfg, plain_task, nullptr, 0).run();
  cfg.attention.impl = config::AttentionImpl::fused;
  train::LMTask fused_task(cfg);
  const auto fused = train::Trainer(cfg, fused_task, nullptr, 0).run();
  EXPECT_NEAR(plain.last_loss, fused.last_loss, 1e-4 * plain.last_loss);
}

TEST(TrainLM, ActivationCheckpointingTrainsTheSameModel) {
  Config cfg = small_copy_config();
  cfg.train.steps = 4;
  cfg.model.dropout = 0.1;  // the recompute must replay the same dropout masks
  train::LMTask stored_task(cfg);
  const auto stored = train::Trainer(cfg, stored_task, nullptr, 0).run();
  cfg.model.activation_checkpointing = true;
  train::LMTask recomputed_task(cfg);
  const auto recomputed = train::Trainer(cfg, recomputed_task, nullptr, 0).run();
  EXPECT_EQ(recomputed.losses, stored.losses);
  const auto a = stored_task.model().named_parameters(), b = recomputed_task.model().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].tensor.to_vector<float>(), b[i].tensor.to_vector<float>()) << a[i].name;
}

TEST(SyntheticTasks, LocalCopyRepeatsEachChunkSpanPlusOneTokensLater) {
  data::SyntheticSpec spec;
  spec.task = "local_copy";
  spec.seq_len = 36;  // chunks of 2 * 6 + 1: two whole, the third cut after 3 tokens of its copy
  spec.copy_span = 6;
  spec.batch_size = 3;
  const data::TokenBatch batch = data::SyntheticTask(spec).batch(5);
  const auto in = batch.inputs.to_vector<int64_t>(), tgt = batch.targets.to_vector<int64_t>();
  int64_t scored = 0;
  for (int64_t s = 0; s < spec.batch_size; ++s)
    for (int64_t t = 0; t < spec.seq_len; ++t) {
      const size_t i = static_cast<size_t>(s * spec.seq_len + t);
      if (t % 13 == 6) {
        EXPECT_EQ(in[i], 0) << "separator at " << t;
      }
      if (tgt[i] == data::kIgnoreIndex) continue;
      ++scored;
      EXPECT_EQ(tgt[i], in[i + 1]) << "a target is the next token";
      EXPECT_EQ(in[i + 1], in[i + 1 - 7]) << "the next token repeats the one copy_span + 1 before";
    }
  EXPECT_EQ(scored, spec.batch_size * (6 + 6 + 3)) << "6 scored tokens per whole chunk, 3 in the cut one";
}

TEST(TrainLM, LearnsLocalCopyWithASlidingWindow) {
  Config cfg = small_copy_config();
  cfg.data.task = config::Task::local_copy;
  cfg.data.copy_span = 6;
  cfg.data.seq_len = 65;  // five chunks
  cfg.attention.mask = config::Mask::window;
  cfg.attention.window = 8;  // just wide enough: the copy sits 7 tokens back
  cfg.train.steps = 150;
  validate(cfg);
  train::LMTask task(cfg);
  const train::TrainSummary s = train::Trainer(cfg, task, nullptr, 0).run();
  EXPECT_GE(s.final_eval.accuracy, 0.9) << "eval loss " << s.final_eval.loss;
}

}  // namespace
}  // namespace attnscale

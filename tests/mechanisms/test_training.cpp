// Every mechanism's model learns its synthetic task in a bounded number of steps (about a second
// each on one core): the loss falls and the accuracy ends far above chance. Tiny models; the
// configs in configs/mechanisms/ are the full-size runs.
#include <gtest/gtest.h>

#include "base/logging.h"
#include "framework/config/config.h"
#include "framework/train/captioner_task.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"

namespace attnscale {
namespace {

struct Outcome {
  double first_loss, last_loss, accuracy, chance;
};

Outcome train(const Config& cfg) {
  set_log_level("warn");
  validate(cfg);
  const auto task = train::make_task(cfg);
  train::Trainer trainer(cfg, *task, nullptr, 0);
  const train::TrainSummary s = trainer.run();
  return {s.first_loss, s.last_loss, s.final_eval.accuracy, task->chance_accuracy()};
}

void expect_learns(const Config& cfg, double min_accuracy, const std::string& what) {
  const Outcome o = train(cfg);
  EXPECT_LT(o.last_loss, 0.5 * o.first_loss) << what << ": loss " << o.first_loss << " -> " << o.last_loss;
  EXPECT_GT(o.accuracy, min_accuracy) << what << " (chance " << o.chance << ")";
  EXPECT_GT(o.accuracy, 4 * o.chance) << what;
}

// A short run that writes nothing and evaluates on two batches.
Config short_run(Config cfg, int64_t steps) {
  cfg.optim.warmup_steps = 20;
  cfg.train.steps = steps;
  cfg.train.eval_batches = 2;
  cfg.train.log_every = 1000;
  cfg.logging.metrics = false;
  cfg.logging.progress = config::ProgressMode::off;
  return cfg;
}

// Copy (x1..x7 0 x1..x7) with a one-layer TransformerLM: the second copy is read 8 tokens back.
Config tiny_lm(config::MechanismName mechanism) {
  Config cfg;
  cfg.attention.mechanism = mechanism;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 16;
  cfg.data.vocab_size = 10;
  cfg.data.batch_size = 16;
  cfg.model.d_model = 32;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  cfg.optim.lr = 1e-2;
  return short_run(cfg, 200);
}

TEST(Training, TransformerLMLearnsWithEachMechanism) {
  Config sdp = tiny_lm("scaled_dot_product");
  sdp.model.n_heads = 1;
  expect_learns(sdp, 0.5, "scaled_dot_product");
  expect_learns(tiny_lm("self"), 0.5, "self");
  Config gqa = tiny_lm("multi_head");
  gqa.model.n_heads = 4, gqa.model.n_kv_heads = 2;
  expect_learns(gqa, 0.5, "multi_head (GQA)");
  Config mla = tiny_lm("multi_head_latent");
  mla.mla.kv_lora_rank = 16, mla.mla.q_lora_rank = 16, mla.mla.qk_nope_head_dim = 8, mla.mla.qk_rope_head_dim = 8;
  mla.mla.v_head_dim = 16;
  expect_learns(mla, 0.5, "multi_head_latent");
  Config span = tiny_lm("adaptive");
  span.adaptive_span.max_span = 16, span.adaptive_span.ramp = 4, span.adaptive_span.init = 0.6;
  span.adaptive_span.penalty = 1e-3;
  expect_learns(span, 0.5, "adaptive span");
}

TEST(Training, SparsemaxNormalizerLearnsOnBothPaths) {
  for (const auto impl : {config::AttentionImpl::fused, config::AttentionImpl::plain}) {
    Config cfg = tiny_lm("sparse");
    cfg.attention.normalizer = config::Normalizer::sparsemax;
    cfg.attention.impl = impl;
    expect_learns(cfg, 0.5, std::string("sparsemax ") + std::string(config::to_string(impl)));
  }
}

TEST(Training, TransformerLMLearnsWithEachBlockSparsePattern) {
  for (const auto pattern : {config::SparsePattern::strided, config::SparsePattern::fixed,
                             config::SparsePattern::longformer, config::SparsePattern::bigbird}) {
    Config cfg = tiny_lm("sparse");
    cfg.model.n_layers = 2;
    cfg.attention.mask = config::Mask::block_sparse;
    cfg.attention.sparse_pattern = pattern;
    cfg.attention.block_size = 4;
    cfg.attention.sparse_stride = 2;
    expect_learns(cfg, 0.5, std::string(config::to_string(pattern)));
  }
}

TEST(Training, EncoderDecoderLearnsReversedTranslation) {
  Config cfg;
  cfg.model.type = config::ModelType::encoder_decoder;
  cfg.attention.mechanism = "cross";
  cfg.model.d_model = 32;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  cfg.encoder_decoder.min_len = 2;
  cfg.encoder_decoder.max_len = 5;
  cfg.data.vocab_size = 10;
  cfg.data.batch_size = 16;
  cfg.optim.lr = 1e-2;
  expect_learns(short_run(cfg, 200), 0.6, "encoder_decoder");
}

TEST(Training, CaptionerWithSentinelLearnsTheVisualWordsAndWhenToLook) {
  // One object per caption ("the <class> eos"), the image reaching the words only through
  // attention (see configs/mechanisms/adaptive.yaml for why).
  Config cfg;
  cfg.model.type = config::ModelType::captioner;
  cfg.attention.mechanism = "adaptive";
  cfg.model.d_model = 64;
  cfg.captioner.objects = 1;
  cfg.captioner.feature_noise = 0.1;
  cfg.captioner.global_feature = false;
  cfg.data.batch_size = 32;
  cfg = short_run(cfg, 400);
  set_log_level("warn");
  train::CaptionerTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const train::TrainSummary s = trainer.run();
  EXPECT_LT(s.last_loss, 0.5 * s.first_loss);
  EXPECT_GT(s.final_eval.accuracy, 0.9) << "chance " << task.chance_accuracy();
  // The gate looks at the image for the class words and relies on the sentinel for the others.
  const data::CaptionTask data(train::caption_spec(cfg, 1));
  const data::CaptionBatch batch = data.batch(123456);
  auto& model = dynamic_cast<models::Captioner&>(task.model());
  model.eval();
  const train::GateSplit gate = train::gate_split(model.forward(batch.features, batch.inputs).beta, batch.targets);
  EXPECT_LT(gate.visual, 0.1);
  EXPECT_GT(gate.non_visual, 0.9);
}

TEST(Training, MechanismsThatDoNotFitTheModelNameTheKey) {
  auto expect_config_error = [](const Config& cfg, const std::string& part) {
    try {
      train::make_task(cfg);
      ADD_FAILURE() << "no error for " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  Config lm;
  lm.attention.mechanism = "cross";
  expect_config_error(lm, "attention.mechanism");
  Config sdp;
  sdp.attention.mechanism = "scaled_dot_product";
  expect_config_error(sdp, "[scaled_dot_product]");
  Config encdec;
  encdec.model.type = config::ModelType::encoder_decoder;
  expect_config_error(encdec, "attention.mechanism");
  encdec.attention.mechanism = "cross";
  encdec.encoder_decoder.min_len = 20;
  expect_config_error(encdec, "encoder_decoder.min_len");
  Config captioner;
  captioner.model.type = config::ModelType::captioner;
  captioner.attention.mechanism = "adaptive";
  captioner.captioner.objects = 9;
  expect_config_error(captioner, "captioner.objects");
}

}  // namespace
}  // namespace attnscale

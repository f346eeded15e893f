// configs/mechanisms/hierarchical.yaml trains HAN on its synthetic task (the label is decided by the
// one sentence holding the trigger word) in a test-sized run: held-out accuracy far above chance
// (0.25), and the sentence attention has found the trigger sentence.
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/core/autograd/node.h"
#include "framework/config/config.h"
#include "framework/data/doc_synthetic.h"
#include "framework/core/ops/ops.h"
#include "framework/train/han_task.h"
#include "framework/train/trainer.h"

namespace attnscale {
namespace {

Config test_config(std::vector<std::string> extra) {
  std::vector<std::string> overrides = {"train.steps=150", "han.train_docs=2400", "han.eval_docs=128",
                                        "train.eval_batches=4", "logging.progress=off", "logging.metrics=false"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs/mechanisms/hierarchical.yaml", overrides);
}

// Fraction of held-out documents whose largest sentence-attention weight is the trigger sentence.
double trigger_focus(train::HanTask& task) {
  autograd::NoGradGuard no_grad;
  task.han().eval();
  const data::DocCorpus& c = task.corpus();
  const auto& docs = c.split(data::Split::validation);
  const data::DocBatch batch = task.local_batch(docs);
  const auto focus = argmax(task.han().attention_weights(batch).second, -1).to_vector<int64_t>();
  int64_t hits = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto sentence = c.sentence(c.document_offsets[docs[i]] + focus[i]);
    hits += std::find(sentence.begin(), sentence.end(), data::kTriggerWord) != sentence.end();
  }
  return static_cast<double>(hits) / static_cast<double>(docs.size());
}

TEST(HierarchicalConfig, TrainsToHighAccuracyByAttendingToTheTriggerSentence) {
  const Config cfg = test_config({});
  train::HanTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const train::TrainSummary summary = trainer.run();
  EXPECT_LT(summary.last_loss, 0.5 * summary.first_loss);
  EXPECT_GE(summary.final_eval.accuracy, 0.9) << "eval loss " << summary.final_eval.loss;
  EXPECT_GE(trigger_focus(task), 0.9);
}

// Why attention matters on this task: without a sentence encoder, in the same 60 steps, attention
// pooling finds the trigger sentence while averaging the sentences is still far from it (measured:
// 0.99 against 0.57 held-out accuracy).
TEST(HierarchicalConfig, AttentionLearnsWhatAveragingCannotYet) {
  double accuracy[2];
  for (const int i : {0, 1}) {
    const Config cfg = test_config({"train.steps=60", "han.sentence_encoder=none",
                                    i == 0 ? "han.pooling=attention" : "han.pooling=average"});
    train::HanTask task(cfg);
    accuracy[i] = train::Trainer(cfg, task, nullptr, 0).run().final_eval.accuracy;
  }
  EXPECT_GE(accuracy[0], 0.9);
  EXPECT_LE(accuracy[1], accuracy[0] - 0.2);
}

}  // namespace
}  // namespace attnscale

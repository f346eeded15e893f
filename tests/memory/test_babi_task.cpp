// MemN2N on a prepared bAbI set (data.path): an epoch of training batches holds every training
// question once, an evaluation pass every question of memn2n.eval_split once, random noise reaches
// training batches only, the config's errors name the key, and a short run learns task 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "framework/config/config.h"
#include "framework/train/memn2n_task.h"
#include "framework/train/trainer.h"
#include "tests/config/test_support.h"
#include "tests/memory/memory_test_util.h"

namespace attnscale {
namespace {

using data::BabiTask;

Config babi_config(const std::filesystem::path& file, std::vector<std::string> overrides) {
  overrides.insert(overrides.end(), {"logging.progress=off", "logging.metrics=false", "data.path=" + file.string(),
                                     "memn2n.max_sentences=50", "data.batch_size=32"});
  return load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / "memory.yaml", overrides);
}

// question text | answer | statements in memory, for each question of a batch.
std::multiset<std::string> keys(const data::BabiBatch& batch) {
  std::multiset<std::string> out;
  const auto q = batch.question.to_vector<int64_t>(), a = batch.answer.to_vector<int64_t>(),
             n = batch.story_lengths.to_vector<int64_t>();
  for (size_t b = 0; b < a.size(); ++b)
    out.insert(data::babi_text(std::span<const int64_t>(q).subspan(b * data::kBabiQuestionWords, data::kBabiQuestionWords)) +
               "|" + std::to_string(a[b]) + "|" + std::to_string(n[b]));
  return out;
}

std::multiset<std::string> keys(const data::BabiDataset& set, data::Split split) {
  std::multiset<std::string> out;
  for (const int64_t id : set.split(split)) {
    const data::BabiQuestion& q = set.questions[static_cast<size_t>(id)];
    out.insert(data::babi_text(q.words) + "|" + std::to_string(q.answer) + "|" +
               std::to_string(std::min<int64_t>(q.context, 50)));
  }
  return out;
}

class BabiTaskOnFile : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = data::generate_babi_dataset({BabiTask::two_facts, 1000, 200, 0.1, 4});
    data::write_babi_dataset(dir_ / "task2.h5", set_);
  }
  testing::TempDir dir_;
  data::BabiDataset set_;
};

TEST_F(BabiTaskOnFile, AnEpochHoldsEveryTrainingQuestionOnce) {
  const train::MemN2NTask task(babi_config(dir_ / "task2.h5", {}));
  std::multiset<std::string> seen;
  for (int64_t i = 0; i < 28; ++i) {
    const auto k = keys(task.train_data(i));
    seen.insert(k.begin(), k.end());
  }
  // Batch 28 holds the epoch's last 4 questions, then the next epoch's first 28.
  const data::BabiBatch straddling = task.train_data(28);
  EXPECT_EQ(straddling.answer.shape()[0], 32);
  const auto expected = keys(set_, data::Split::train);
  EXPECT_EQ(seen.size() + 4, expected.size());
  for (const auto& k : seen) EXPECT_GE(expected.count(k), seen.count(k)) << k;
  EXPECT_NE(keys(task.train_data(0)), keys(task.train_data(29))) << "each epoch has its own order";
}

TEST_F(BabiTaskOnFile, AnEvaluationPassHoldsTheSplitOnce) {
  for (const auto& [split, name] : {std::pair{data::Split::validation, "validation"}, {data::Split::test, "test"}}) {
    const train::MemN2NTask task(babi_config(dir_ / "task2.h5", {std::string("memn2n.eval_split=") + name}));
    std::multiset<std::string> seen;
    for (int64_t i = 0; i < task.eval_batches_per_pass(); ++i) {
      const auto k = keys(task.eval_data(i));
      seen.insert(k.begin(), k.end());
    }
    EXPECT_EQ(seen, keys(set_, split)) << name;
    EXPECT_EQ(keys(task.eval_data(task.eval_batches_per_pass())), keys(task.eval_data(0))) << "the next pass";
  }
}

TEST_F(BabiTaskOnFile, RandomNoiseReachesTrainingBatchesOnly) {
  const train::MemN2NTask task(babi_config(dir_ / "task2.h5", {"memn2n.random_noise=0.3"}));
  const train::MemN2NTask plain(babi_config(dir_ / "task2.h5", {}));
  EXPECT_NE(task.train_data(3).story_lengths.to_vector<int64_t>(), plain.train_data(3).story_lengths.to_vector<int64_t>());
  EXPECT_EQ(task.eval_data(1).story.to_vector<int64_t>(), plain.eval_data(1).story.to_vector<int64_t>());
}

TEST_F(BabiTaskOnFile, OptionsThatDoNotFitNameTheKey) {
  const auto task = testing::error_message([&] { train::MemN2NTask(babi_config(dir_ / "task2.h5", {"memn2n.task=three_facts"})); });
  EXPECT_NE(task.find("[config] memn2n.task: is three_facts but"), std::string::npos) << task;
  EXPECT_NE(task.find("holds bAbI task 2 (two_facts)"), std::string::npos) << task;
  const auto noise = testing::error_message([&] {
    train::MemN2NTask(load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs" / "mechanisms" / "memory.yaml",
                                  std::vector<std::string>{"memn2n.random_noise=0.1"}));
  });
  EXPECT_NE(noise.find("[config] memn2n.random_noise: needs data.path"), std::string::npos) << noise;
  const auto missing = testing::error_message([&] { train::MemN2NTask(babi_config(dir_ / "none.h5", {})); });
  EXPECT_NE(missing.find("attnscale prepare babi"), std::string::npos) << missing;
}

TEST(BabiTaskTraining, LearnsTask1FromTheFixedSet) {
  testing::TempDir dir;
  data::write_babi_dataset(dir / "task1.h5", data::generate_babi_dataset({BabiTask::single_fact, 1000, 1000, 0.1, 1}));
  const Config cfg = babi_config(dir / "task1.h5", {"memn2n.task=single_fact", "train.steps=500",
                                                     "memn2n.linear_start_steps=50", "train.eval_batches=4"});
  train::MemN2NTask task(cfg);
  const train::TrainSummary summary = train::Trainer(cfg, task, nullptr, 0).run();
  std::printf("task 1, 500 steps: validation accuracy %.3f\n", summary.final_eval.accuracy);
  EXPECT_GT(summary.final_eval.accuracy, 0.9);
}

}  // namespace
}  // namespace attnscale

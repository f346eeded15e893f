// The save protocol on one process: round trip, latest and keep, cleanup of unfinished saves, and
// what an injected failure at each step leaves behind.
#include <gtest/gtest.h>

#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/select.h"
#include "framework/checkpoint/writer.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;
using test_checkpoint::digest;
using test_checkpoint::TinyModel;

std::vector<std::int64_t> steps_in(const fs::path& root) {
  std::vector<std::int64_t> steps;
  for (const CheckpointEntry& e : list_checkpoints(root)) steps.push_back(e.step);
  return steps;
}

bool has_tmp_entries(const fs::path& root) {
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.path().filename().string().ends_with(kTmpSuffix)) return true;
  return false;
}

class Writer : public ::testing::Test {
 protected:
  testing::TempDir tmp;
  fs::path root = tmp / "checkpoints";
  TinyModel model{1.0};
  std::unique_ptr<Adam> optimizer = test_checkpoint::make_adam(model);

  void SetUp() override { test_checkpoint::fill_state(*optimizer, 7.0); }

  fs::path save(CheckpointWriter& writer, std::int64_t step, RankState rank_state = {}) {
    return writer.save(test_checkpoint::make_content(model, *optimizer, step, {}, std::move(rank_state)));
  }
  CheckpointWriter writer(std::int64_t keep = 3, SaveFault fault = {}) { return {{root, keep, fault}, nullptr}; }
};

TEST_F(Writer, SavedStateLoadsBackIntoAFreshModel) {
  CheckpointWriter w = writer();
  const RankState rank_state{12, {{"dropout", 99, 1234}, {"sampling", 5, 0}}};
  const fs::path dir = save(w, 5, rank_state);
  EXPECT_EQ(dir, root / "step_00000005");
  EXPECT_EQ(read_latest(root), dir);

  TinyModel fresh(-50.0);
  const auto fresh_optimizer = test_checkpoint::make_adam(fresh);
  ASSERT_NE(digest(fresh.named_parameters()), digest(model.named_parameters()));
  ASSERT_NE(digest(fresh_optimizer->state()), digest(optimizer->state()));

  const CheckpointReader reader(dir);
  EXPECT_EQ(reader.manifest().step, 5);
  EXPECT_EQ(reader.manifest().optimizer, "adamw");
  load_named_tensors(fresh.named_parameters(), reader.read_group(kParamsGroup), "parameter", dir);
  load_named_tensors(fresh.named_buffers(), reader.read_group(kBuffersGroup), "buffer", dir);
  fresh_optimizer->load_state(reader.read_group(kOptimizerGroup));
  EXPECT_EQ(digest(fresh.named_parameters()), digest(model.named_parameters()));
  EXPECT_EQ(digest(fresh.named_buffers()), digest(model.named_buffers()));
  EXPECT_EQ(digest(fresh_optimizer->state()), digest(optimizer->state()));

  const SavedRanks ranks = reader.read_ranks();
  ASSERT_EQ(ranks.ranks.size(), 1u);
  RankState sorted = rank_state;  // ranks.h5 lists streams by name
  EXPECT_EQ(ranks.ranks[0], sorted);
  EXPECT_NO_THROW(reader.read_everything());
}

TEST_F(Writer, SameStateGivesTheSameFiles) {
  CheckpointWriter w = writer();
  const Manifest a = CheckpointReader(save(w, 1)).manifest();
  const Manifest b = CheckpointReader(save(w, 1)).manifest();  // re-saving a step replaces it
  EXPECT_EQ(a.find("model.h5")->sha256, b.find("model.h5")->sha256);
  EXPECT_EQ(a.find("ranks.h5")->sha256, b.find("ranks.h5")->sha256);
  EXPECT_EQ(steps_in(root), std::vector<std::int64_t>{1});
}

TEST_F(Writer, AModelOfAnotherShapeIsRefusedByName) {
  CheckpointWriter w = writer();
  const fs::path dir = save(w, 1);
  struct Other : nn::Module {
    Other() {
      register_parameter("encoder.weight", test_checkpoint::filled({6, 4}, DType::f32, 0));
      register_parameter("extra", test_checkpoint::filled({2}, DType::f32, 0));
    }
  } other;
  const CheckpointReader reader(dir);
  const NamedTensors saved = reader.read_group(kParamsGroup);
  try {
    load_named_tensors(other.named_parameters(), saved, "parameter", dir / kModelFile);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.h5: does not match this model: parameter 'encoder.weight' is float32 "
                                         "[6, 5] in the checkpoint, float32 [6, 4] in the model"),
              std::string::npos)
        << e.what();
  }
  const NamedTensors only_encoder{other.named_parameters()[0]};
  EXPECT_THROW(load_named_tensors(only_encoder, saved, "parameter", dir), CheckpointError);  // checkpoint has more
}

TEST_F(Writer, KeepsTheNewestAndCleansUnfinishedSavesAtStart) {
  {
    CheckpointWriter w = writer(/*keep=*/2);
    for (std::int64_t step = 1; step <= 5; ++step) save(w, step);
  }
  EXPECT_EQ(steps_in(root), (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(read_latest(root), root / "step_00000005");
  fs::create_directories(root / "step_00000006.tmp");
  testing::write_file(root / "step_00000006.tmp" / "model.h5", "half");
  testing::write_file(root / "latest.tmp", "step_00000006");
  fs::create_directories(root / "step_00000002.deleted.tmp");
  const CheckpointWriter restarted = writer();
  EXPECT_FALSE(has_tmp_entries(root));
  EXPECT_EQ(steps_in(root), (std::vector<std::int64_t>{4, 5}));
}

// A failure before the commit, at any step: nothing committed, nothing left over, the previous
// checkpoint still the newest valid one, and the error names the point.
TEST_F(Writer, InjectedFailureBeforeTheCommitLeavesThePreviousCheckpoint) {
  for (const SavePoint point : {SavePoint::started, SavePoint::model_written, SavePoint::ranks_written,
                                SavePoint::manifest_written}) {
    SCOPED_TRACE(std::string(save_point_name(point)));
    fs::remove_all(root);
    CheckpointWriter w = writer(3, SaveFault{point, SaveFaultMode::fail, 0, 2});
    save(w, 1);
    try {
      save(w, 2);
      FAIL() << "the injected failure did not stop the save";
    } catch (const RuntimeFailure& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("saving step 2"), std::string::npos) << message;
      EXPECT_NE(message.find("nothing was committed"), std::string::npos) << message;
      EXPECT_NE(message.find(save_point_name(point)), std::string::npos) << message;
    }
    EXPECT_EQ(steps_in(root), std::vector<std::int64_t>{1});
    EXPECT_FALSE(has_tmp_entries(root));
    EXPECT_EQ(read_latest(root), root / "step_00000001");
    std::vector<std::string> skipped;
    EXPECT_EQ(newest_valid_checkpoint(root, skipped)->manifest().step, 1);
    EXPECT_TRUE(skipped.empty());
    save(w, 3);  // the writer goes on after a failed save
    EXPECT_EQ(steps_in(root), (std::vector<std::int64_t>{1, 3}));
  }
}

// After the commit the checkpoint stands: a failure updating `latest` or pruning is only logged.
TEST_F(Writer, FailureAfterTheCommitKeepsTheNewCheckpoint) {
  for (const SavePoint point : {SavePoint::committed, SavePoint::latest_updated, SavePoint::pruned}) {
    SCOPED_TRACE(std::string(save_point_name(point)));
    fs::remove_all(root);
    CheckpointWriter w = writer(3, SaveFault{point, SaveFaultMode::fail, 0, 2});
    save(w, 1);
    EXPECT_NO_THROW(save(w, 2));
    std::vector<std::string> skipped;
    EXPECT_EQ(newest_valid_checkpoint(root, skipped)->manifest().step, 2);
    EXPECT_EQ(read_latest(root), root / (point == SavePoint::committed ? "step_00000001" : "step_00000002"));
  }
}

TEST_F(Writer, AnUnwritableDirectoryFailsCleanly) {
  testing::write_file(tmp / "a_file", "x");
  CheckpointWriter w({tmp / "a_file" / "checkpoints", 3, {}}, nullptr);
  try {
    save(w, 1);
    FAIL();
  } catch (const RuntimeFailure& e) {
    EXPECT_NE(std::string(e.what()).find("nothing was committed"), std::string::npos) << e.what();
  }
}

TEST_F(Writer, GridMustMatchTheSavingRanks) {
  CheckpointWriter w = writer();
  auto content = test_checkpoint::make_content(model, *optimizer, 1, GridShape{2, 1, 1});
  EXPECT_THROW(w.save(content), RuntimeFailure);
  EXPECT_TRUE(steps_in(root).empty());
}

TEST(SaveFault, ParsesTheEnvironmentSyntax) {
  const SaveFault fault = SaveFault::parse("ranks_written:fail:2:3");
  EXPECT_EQ(fault.point, SavePoint::ranks_written);
  EXPECT_EQ(fault.mode, SaveFaultMode::fail);
  EXPECT_EQ(fault.rank, 2);
  EXPECT_EQ(fault.save, 3);
  EXPECT_EQ(SaveFault::parse("committed").mode, SaveFaultMode::kill);
  EXPECT_FALSE(SaveFault::parse("").point);
  EXPECT_THROW(SaveFault::parse("nowhere"), UsageError);
  EXPECT_THROW(SaveFault::parse("started:explode"), UsageError);
  EXPECT_THROW(SaveFault::parse("started:kill:-1"), UsageError);
  EXPECT_THROW(SaveFault::parse("started:kill:0:0"), UsageError);
}

}  // namespace
}  // namespace attnscale::checkpoint

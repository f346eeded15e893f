// Which checkpoint a run resumes from, and what happens to the others.
#include <gtest/gtest.h>

#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/select.h"
#include "framework/checkpoint/writer.h"
#include "tests/checkpoint/checkpoint_test_util.h"
#include "tests/config/test_support.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

class Select : public ::testing::Test {
 protected:
  testing::TempDir tmp;
  fs::path root = tmp / "checkpoints";
  test_checkpoint::TinyModel model{1.0};
  std::unique_ptr<Adam> optimizer = test_checkpoint::make_adam(model);

  void save_steps(std::initializer_list<std::int64_t> steps) {
    CheckpointWriter writer({root, 10, {}}, nullptr);
    for (const std::int64_t step : steps) writer.save(test_checkpoint::make_content(model, *optimizer, step));
  }
  std::optional<std::int64_t> selected(std::string_view resume) {
    std::vector<std::string> skipped;
    const auto reader = select_checkpoint(resume, root, skipped);
    return reader ? std::optional(reader->manifest().step) : std::nullopt;
  }
};

TEST_F(Select, NoneAndAnEmptyDirectoryMeanAFreshStart) {
  EXPECT_EQ(selected("auto"), std::nullopt);  // the directory does not even exist
  save_steps({2});
  EXPECT_EQ(selected("none"), std::nullopt);
}

TEST_F(Select, AutoTakesTheHighestValidStepAndSaysWhatItSkipped) {
  save_steps({2, 4, 6});
  EXPECT_EQ(selected("auto"), 6);
  fs::remove(root / "step_00000006" / "ranks.h5");
  std::vector<std::string> skipped;
  EXPECT_EQ(newest_valid_checkpoint(root, skipped)->manifest().step, 4);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("step_00000006/ranks.h5: missing file"), std::string::npos) << skipped[0];
}

TEST_F(Select, AStaleLatestPointerDoesNotHideANewerCheckpoint) {
  save_steps({2, 4});
  write_latest(root, "step_00000002");  // as after a crash between the commit and the update
  EXPECT_EQ(selected("auto"), 4);
}

TEST_F(Select, NoValidCheckpointIsAnErrorListingEveryReason) {
  save_steps({2, 4});
  fs::remove(root / "step_00000002" / kManifestFile);
  testing::write_file(root / "step_00000004" / kModelFile, "garbage");
  try {
    selected("auto");
    FAIL();
  } catch (const CheckpointError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("none of its 2 checkpoints is valid"), std::string::npos) << message;
    EXPECT_NE(message.find("step_00000002/manifest.json: missing"), std::string::npos) << message;
    EXPECT_NE(message.find("step_00000004/model.h5: truncated"), std::string::npos) << message;
  }
}

TEST_F(Select, APathNamesOneCheckpointOrADirectoryOfThem) {
  save_steps({2, 4});
  EXPECT_EQ(selected((root / "step_00000002").string()), 2);
  EXPECT_EQ(selected(root.string()), 4);
  EXPECT_THROW(selected((root / "step_00000009").string()), CheckpointError);
  fs::create_directories(tmp / "empty");
  EXPECT_THROW(selected((tmp / "empty").string()), CheckpointError);
  fs::remove(root / "step_00000002" / kManifestFile);
  EXPECT_THROW(selected((root / "step_00000002").string()), CheckpointError);  // named, so no fallback
}

TEST_F(Select, CheckpointsAheadOfTheStartAreSetAside) {
  save_steps({2, 4, 6});
  const auto moved = set_aside_after(root, 2);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0], root / "abandoned" / "step_00000004");
  EXPECT_EQ(list_checkpoints(root).size(), 1u);
  save_steps({4});
  EXPECT_EQ(set_aside_after(root, 2).back(), root / "abandoned" / "step_00000004.1");
}

}  // namespace
}  // namespace attnscale::checkpoint

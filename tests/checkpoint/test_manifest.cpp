#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/manifest.h"
#include "tests/config/test_support.h"

namespace attnscale::checkpoint {
namespace {

Manifest sample() {
  Manifest m;
  m.format_version = kFormatVersion;
  m.program_version = "0.1.0";
  m.step = 1200;
  m.world_size = 4;
  m.grid = GridShape{2, 2, 1};
  m.optimizer = "adamw";
  m.created_utc = "2026-11-24T00:00:00Z";
  m.config_yaml = "run:\n  name: \"x\"\n";
  m.files = {{"model.h5", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
             {"ranks.h5", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}};
  return m;
}

std::string refusal(std::string_view text) {
  try {
    parse_manifest(text, "ck/manifest.json");
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST(Manifest, RoundTrip) {
  const Manifest m = sample();
  const Manifest back = parse_manifest(manifest_to_json(m), "manifest.json");
  EXPECT_EQ(back.step, m.step);
  EXPECT_EQ(back.world_size, 4);
  EXPECT_EQ(back.grid.dp, 2);
  EXPECT_EQ(back.grid.cp, 2);
  EXPECT_EQ(back.optimizer, "adamw");
  EXPECT_EQ(back.config_yaml, m.config_yaml);
  ASSERT_EQ(back.files.size(), 2u);
  EXPECT_EQ(back.files[0].sha256, m.files[0].sha256);
  EXPECT_EQ(back.find("ranks.h5")->bytes, 0u);
  EXPECT_EQ(back.find("nope"), nullptr);
}

TEST(Manifest, DamageIsRefusedWithTheFileName) {
  std::string text = manifest_to_json(sample());
  EXPECT_NE(refusal(text.substr(0, text.size() / 2)).find("ck/manifest.json: corrupt manifest: not valid JSON"),
            std::string::npos);
  std::string edited = text;
  edited.replace(edited.find("1200"), 4, "1300");
  EXPECT_NE(refusal(edited).find("checksum does not match"), std::string::npos);
  std::string flipped = text;
  flipped[flipped.find("ba7816")] = 'c';
  EXPECT_NE(refusal(flipped).find("checksum does not match"), std::string::npos);
  EXPECT_NE(refusal("{\"step\": 3}").find("no 'manifest_sha256' field"), std::string::npos);
}

TEST(Manifest, NewerFormatIsRefused) {
  Manifest m = sample();
  m.format_version = kFormatVersion + 1;
  const std::string why = refusal(manifest_to_json(m));
  EXPECT_NE(why.find("this program reads version"), std::string::npos) << why;
}

TEST(Manifest, InconsistentLayoutIsRefused) {
  Manifest m = sample();
  m.world_size = 3;
  EXPECT_NE(refusal(manifest_to_json(m)).find("inconsistent world layout"), std::string::npos);
  m = sample();
  m.files[0].name = "../model.h5";
  EXPECT_NE(refusal(manifest_to_json(m)).find("bad file name"), std::string::npos);
}

TEST(Manifest, VerifyFilesNamesEachFault) {
  testing::TempDir dir;
  testing::write_file(dir / "model.h5", "abc");
  testing::write_file(dir / "ranks.h5", "");
  const Manifest m = sample();
  EXPECT_NO_THROW(verify_files(m, dir.path()));
  const auto why = [&](bool hashes = true) {
    try {
      verify_files(m, dir.path(), hashes);
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  testing::write_file(dir / "model.h5", "abd");
  EXPECT_NE(why().find((dir / "model.h5").string() + ": corrupt (SHA-256"), std::string::npos) << why();
  EXPECT_EQ(why(/*hashes=*/false), "");
  testing::write_file(dir / "model.h5", "ab");
  EXPECT_NE(why().find("model.h5: truncated (2 bytes, manifest.json lists 3)"), std::string::npos) << why();
  testing::write_file(dir / "model.h5", "abcd");
  EXPECT_NE(why().find("has 4 bytes"), std::string::npos) << why();
  std::filesystem::remove(dir / "model.h5");
  EXPECT_NE(why().find("model.h5: missing file"), std::string::npos) << why();
}

TEST(CheckpointFormat, StepDirectoryNames) {
  EXPECT_EQ(step_dir_name(42), "step_00000042");
  EXPECT_EQ(step_dir_name(1234567890), "step_1234567890");
  EXPECT_EQ(step_of_dir_name("step_00000042"), 42);
  EXPECT_EQ(step_of_dir_name("step_7"), 7);
  EXPECT_FALSE(step_of_dir_name("step_00000042.tmp"));
  EXPECT_FALSE(step_of_dir_name("step_"));
  EXPECT_FALSE(step_of_dir_name("step_-1"));
  EXPECT_FALSE(step_of_dir_name("latest"));
}

}  // namespace
}  // namespace attnscale::checkpoint

// The program: `config show` round trips for every file in configs/, `config defaults`, the
// generated README section, `version`, and the exit codes of command-line mistakes.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "framework/config/config.h"
#include "framework/config/docs.h"
#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

class Program : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(program)) << "build the program first: ninja -C build attnscale_app";
  }
};

std::vector<std::filesystem::path> shipped_configs() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir / "configs"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST_F(Program, ShowRoundTripsEveryShippedConfig) {
  const auto files = shipped_configs();
  ASSERT_FALSE(files.empty());
  TempDir dir;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const ProgramResult shown = run_attnscale({"config", "show", file.string()});
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(shown.out, to_yaml(load_config(file)));  // the program prints what the library resolves
    write_file(dir / "shown.yaml", shown.out);
    const ProgramResult again = run_attnscale({"config", "show", (dir / "shown.yaml").string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, shown.out);
  }
}

TEST_F(Program, ShowAppliesOverridesAndComments) {
  const auto quickstart = (source_dir / "configs" / "quickstart.yaml").string();
  const ProgramResult shown = run_attnscale({"config", "show", quickstart, "optim.lr=0.5", "train.steps=7"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("  lr: 0.5\n"), std::string::npos);
  EXPECT_NE(shown.out.find("  steps: 7\n"), std::string::npos);
  const ProgramResult commented = run_attnscale({"config", "show", "--comments", quickstart});
  ASSERT_EQ(commented.exit_code, 0) << commented.err;
  EXPECT_NE(commented.out.find("# run length in optimizer steps | >= 1"), std::string::npos);
}

TEST_F(Program, DefaultsListEveryKeyAndLoadBackAsTheDefaults) {
  const ProgramResult defaults = run_attnscale({"config", "defaults"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_EQ(defaults.out, to_yaml(Config{}, YamlStyle::commented));
  TempDir dir;
  write_file(dir / "defaults.yaml", defaults.out);
  EXPECT_EQ(to_yaml(load_config(dir / "defaults.yaml")), to_yaml(Config{}));
}

TEST(Docs, ReadmeKeyReferenceMatchesTheSchema) {
  const std::string readme = read_file(source_dir / "configs" / "README.md");
  EXPECT_EQ(config::generated_section(readme), config::reference_markdown())
      << "configs/README.md is stale; run: build/bin/attnscale config docs --update configs/README.md";
}

TEST_F(Program, DocsUpdateRewritesOnlyTheGeneratedPart) {
  TempDir dir;
  const std::string stale = fmt::format("# intro\n{}\nold table\n{}\n# outro\n", config::docs_begin_marker,
                                        config::docs_end_marker);
  write_file(dir / "README.md", stale);
  const ProgramResult updated = run_attnscale({"config", "docs", "--update", (dir / "README.md").string()});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(read_file(dir / "README.md"),
            fmt::format("# intro\n{}{}{}\n# outro\n", config::docs_begin_marker, config::reference_markdown(),
                        config::docs_end_marker));
  write_file(dir / "no_markers.md", "# nothing to update\n");
  EXPECT_EQ(run_attnscale({"config", "docs", "--update", (dir / "no_markers.md").string()}).exit_code, 2);
}

TEST_F(Program, VersionAndHelpExitZero) {
  const ProgramResult version = run_attnscale({"version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, fmt::format("attnscale {}\n", ATTNSCALE_VERSION));
  EXPECT_EQ(run_attnscale({"--help"}).exit_code, 0);
  EXPECT_EQ(run_attnscale({"config", "show", "--help"}).exit_code, 0);
}

TEST_F(Program, CommandLineMistakesExitTwo) {
  EXPECT_EQ(run_attnscale({}).exit_code, 2);                      // no subcommand
  EXPECT_EQ(run_attnscale({"trian"}).exit_code, 2);               // unknown subcommand
  EXPECT_EQ(run_attnscale({"config"}).exit_code, 2);              // config needs show|defaults|docs
  EXPECT_EQ(run_attnscale({"config", "show"}).exit_code, 2);      // show needs a file
  EXPECT_EQ(run_attnscale({"version", "--bogus"}).exit_code, 2);  // unknown option
  const ProgramResult missing = run_attnscale({"config", "show", "no_such.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("config file 'no_such.yaml' not found"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace attnscale::testing

// `attnscale prepare docs` as a user runs it: exit 3 listing the malformed lines when refused, exit 0
// with the counts when skipping, exit 2 for a bad option.
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/data/doc_store.h"
#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

const std::filesystem::path kFixtures = source_dir / "tests/corpus/fixtures";

using PrepareProgram = ProgramTest;

TEST_F(PrepareProgram, RefusesMalformedInputWithExitCode3) {
  TempDir dir;
  const auto out = dir / "c.h5";
  const ProgramResult r = run_attnscale({"prepare", "docs", "--input", (kFixtures / "reviews_malformed.csv").string(),
                                         "--split-column", "split", "--output", out.string()});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("reviews_malformed.csv:3: 2 fields where the header has 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reviews_malformed.csv:9: unterminated quoted field"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(PrepareProgram, SkipsAndReportsCounts) {
  TempDir dir;
  const auto out = dir / "c.h5";
  const ProgramResult r =
      run_attnscale({"prepare", "docs", "--input", (kFixtures / "novels.txt").string(), "--format", "text",
                     "--on-error", "skip", "--split", "0.5,0.5,0", "--output", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("records 4 (malformed 1, no tokens 0; blank lines 1)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("novels.txt:3: no tab between label and text"), std::string::npos) << r.err;
  const data::DocCorpus c = data::read_doc_corpus(out);
  EXPECT_EQ(c.num_documents(), 3);
  EXPECT_EQ(c.label_names, (std::vector<std::string>{"emma", "persuasion"}));
}

TEST_F(PrepareProgram, BadOptionsAreUsageErrors) {
  TempDir dir;
  const auto input = (kFixtures / "reviews.csv").string(), out = (dir / "c.h5").string();
  EXPECT_EQ(run_attnscale({"prepare", "docs", "--input", input, "--format", "xml", "--output", out}).exit_code, 2);
  EXPECT_EQ(run_attnscale({"prepare", "docs", "--input", input, "--split", "0.9,0.2,0", "--output", out}).exit_code, 2);
  const ProgramResult missing_column =
      run_attnscale({"prepare", "docs", "--input", input, "--text-column", "body", "--output", out});
  EXPECT_EQ(missing_column.exit_code, 3) << missing_column.err;
  EXPECT_NE(missing_column.err.find("'body' is not a column"), std::string::npos) << missing_column.err;
}

}  // namespace
}  // namespace attnscale::testing

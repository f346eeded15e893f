// Every file in tests/config/malformed/ is a config that must be refused. Its header says how:
//   # args: extra command-line arguments (overrides)
//   # key:  the dotted key the message must name
//   # at:   where the message must point (file:line:column, or the override)
//   # also: more text the message must hold
// The test runs `attnscale config show FILE ARGS` in that folder and checks exit code 2 and the text.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

const std::filesystem::path malformed_dir = source_dir / "tests" / "config" / "malformed";

struct MalformedCase {
  std::string file;
  std::vector<std::string> args;
  std::vector<std::string> expected;  // key, location, further text
};

void PrintTo(const MalformedCase& c, std::ostream* out) { *out << c.file; }

MalformedCase read_case(const std::filesystem::path& file) {
  MalformedCase c{file.filename().string(), {}, {}};
  std::istringstream lines(read_file(file));
  bool has_key = false, has_location = false;
  for (std::string line; std::getline(lines, line) && line.starts_with("#");) {
    const auto field = [&](std::string_view name) -> std::string {
      const std::string prefix = fmt::format("# {}: ", name);
      return line.starts_with(prefix) ? line.substr(prefix.size()) : std::string();
    };
    if (auto args = field("args"); !args.empty()) {
      std::istringstream words(args);
      for (std::string word; words >> word;) c.args.push_back(word);
    }
    for (const char* name : {"key", "at", "also"})
      if (auto text = field(name); !text.empty()) {
        c.expected.push_back(text);
        has_key = has_key || std::string_view(name) == "key";
        has_location = has_location || std::string_view(name) == "at";
      }
  }
  if (!has_key || !has_location) c.expected.push_back("(the file's header lacks '# key:' or '# at:')");
  return c;
}

std::vector<MalformedCase> all_cases() {
  std::vector<MalformedCase> cases;
  for (const auto& entry : std::filesystem::directory_iterator(malformed_dir))
    if (entry.path().extension() == ".yaml") cases.push_back(read_case(entry.path()));
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
  return cases;
}

class Malformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(Malformed, ExitsWithCode2AndNamesKeyAndPlace) {
  ASSERT_TRUE(std::filesystem::exists(program)) << "build the program first: ninja -C build attnscale_app";
  const MalformedCase& c = GetParam();
  std::vector<std::string> args{"config", "show", c.file};
  args.insert(args.end(), c.args.begin(), c.args.end());
  const ProgramResult result = run_attnscale(args, malformed_dir);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.out, "") << "a refused config must print nothing on stdout";
  EXPECT_TRUE(result.err.starts_with("error: [config] ")) << result.err;
  for (const std::string& text : c.expected) EXPECT_NE(result.err.find(text), std::string::npos)
      << "message lacks '" << text << "':\n" << result.err;
}

TEST(MalformedSet, HoldsAtLeastTwentyCases) { EXPECT_GE(all_cases().size(), 20u); }

INSTANTIATE_TEST_SUITE_P(Configs, Malformed, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<MalformedCase>& info) {
                           return std::filesystem::path(info.param.file).stem().string();
                         });

}  // namespace
}  // namespace attnscale::testing

// Helpers for the config and io tests: scratch directories and running the attnscale program.
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <gtest/gtest.h>

namespace attnscale::testing {

inline const std::filesystem::path source_dir{ATTNSCALE_SOURCE_DIR};
inline const std::filesystem::path program{std::filesystem::path(ATTNSCALE_BINARY_DIR) / "bin" / "attnscale"};

// Every .yaml under configs/, sorted.
inline std::vector<std::filesystem::path> shipped_configs() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir / "configs"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() / ("attnscale-test-" + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ProgramResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  quoted += '\'';
  return quoted;
}

// Runs build/bin/attnscale with the arguments, in `cwd` when given.
inline ProgramResult run_attnscale(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
  TempDir scratch;
  // GCC 12 warns (-Wrestrict, falsely) about "literal" + std::string here; build with appends.
  std::string command;
  if (!cwd.empty()) {
    command += "cd ";
    command += shell_quote(cwd.string());
    command += " && ";
  }
  command += shell_quote(program.string());
  for (const auto& arg : args) {
    command += ' ';
    command += shell_quote(arg);
  }
  command += " >";
  command += shell_quote((scratch / "out").string());
  command += " 2>";
  command += shell_quote((scratch / "err").string());
  const int status = std::system(command.c_str());
  ProgramResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(scratch / "out");
  result.err = read_file(scratch / "err");
  return result;
}

// A test that runs the built program: it fails at once, saying how to build it, when it is missing.
class ProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(program)) << "build the program first: ninja -C build attnscale_app";
  }
};

}  // namespace attnscale::testing

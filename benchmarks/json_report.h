// The one way benchmarks write their --json report: indented JSON, then a line saying where it
// went. A file that cannot be written is said on stderr and returns false, for the exit code.
#pragma once

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace attnscale::bench {

inline bool write_json_report(const nlohmann::json& report, const std::string& path, const char* program) {
  std::ofstream file(path);
  file << report.dump(2) << "\n";
  file.close();
  if (!file) {
    std::fprintf(stderr, "%s: cannot write %s\n", program, path.c_str());
    return false;
  }
  std::printf("wrote %s\n", path.c_str());
  return true;
}

}  // namespace attnscale::bench

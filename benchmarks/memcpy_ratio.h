// What the bandwidth benchmarks (bench_ops, bench_optim) share: each benchmark reports its bytes
// per call (report_bytes), the reporter collects GB/s per benchmark, and print_memcpy_ratios prints
// every result as a ratio to the BM_memcpy run of the same process and writes the JSON.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "benchmarks/json_report.h"

namespace attnscale::bench {

inline void report_bytes(benchmark::State& state, int64_t bytes_per_call) {
  state.SetBytesProcessed(state.iterations() * bytes_per_call);
  state.counters["bytes_per_call"] = static_cast<double>(bytes_per_call);
}

// Collects every run for the ratio table and passes it on to the console.
class MemcpyRatioReporter : public benchmark::ConsoleReporter {
 public:
  struct Entry {
    double gb_per_s = 0, ms_per_call = 0, bytes_per_call = 0;
  };
  explicit MemcpyRatioReporter(bool cpu_time = false) : cpu_time_(cpu_time) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      const double total = cpu_time_ ? run.cpu_accumulated_time : run.real_accumulated_time;
      const double seconds = total / static_cast<double>(run.iterations);
      const double bytes = run.counters.at("bytes_per_call").value;
      std::string name = run.benchmark_name();
      name = name.substr(3, name.find('/') - 3);  // "BM_add/real_time" -> "add"
      entries_[name] = Entry{bytes / seconds / 1e9, seconds * 1e3, bytes};
      order_.push_back(name);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // Prints "<what> (<memcpy> GB/s)" and a row per result named by `column` ("op", "update"), and
  // writes `doc` plus memcpy_gb_per_s and the results to json_path when it is not empty. Returns
  // the exit code: 1 when memcpy did not run or the JSON cannot be written.
  int print_memcpy_ratios(const char* program, const std::string& what, const char* column, nlohmann::json doc,
                          const std::string& json_path) const {
    const auto reference = entries_.find("memcpy");
    if (reference == entries_.end()) {
      std::fprintf(stderr, "%s: memcpy did not run (filtered out?), so no ratios\n", program);
      return 1;
    }
    const double memcpy_gbs = reference->second.gb_per_s;
    std::printf("\n%s (%.2f GB/s)\n", what.c_str(), memcpy_gbs);
    std::printf("%-18s %10s %10s %8s\n", column, "ms/call", "GB/s", "ratio");
    nlohmann::json results = nlohmann::json::array();
    for (const std::string& name : order_) {
      const Entry& e = entries_.at(name);
      const double ratio = e.gb_per_s / memcpy_gbs;
      std::printf("%-18s %10.3f %10.2f %8.2f\n", name.c_str(), e.ms_per_call, e.gb_per_s, ratio);
      results.push_back({{column, name}, {"ms_per_call", e.ms_per_call}, {"gb_per_s", e.gb_per_s},
                         {"bytes_per_call", e.bytes_per_call}, {"ratio_to_memcpy", ratio}});
    }
    if (json_path.empty()) return 0;
    doc["memcpy_gb_per_s"] = memcpy_gbs;
    doc["results"] = results;
    return write_json_report(doc, json_path, program) ? 0 : 1;
  }

 private:
  bool cpu_time_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
};

}  // namespace attnscale::bench

// metrics.jsonl: one JSON object per logged step, flushed as it is written (so `tail -f` and a
// crash both see every finished step). Written by rank 0 only. Non-finite numbers (a diverged loss)
// are written as null, since JSON has no NaN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace attnscale {

struct StepMetrics {
  static constexpr double unset = std::numeric_limits<double>::quiet_NaN();

  std::int64_t step = 0;
  double loss = unset;
  double lr = unset;
  double grad_norm = unset;
  double tokens_per_s = unset;
  double step_time_s = unset;
  double comm_time_s = unset;  // time spent waiting in communication during the step
  std::int64_t peak_mem_bytes = 0;
  // Most bytes held by tensors on this rank's GPU so far (runs with run.device = cuda; -1 = a CPU
  // run, and the field is left out).
  std::int64_t peak_device_mem_bytes = -1;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // free-form, e.g. {"accuracy": 0.9}
};

class MetricsWriter {
 public:
  // The run goes on from first_step (0 for a fresh run, checkpoint step + 1 on resume): records of
  // earlier steps already in the file are kept, later ones (a run that went past its last
  // checkpoint) and unreadable lines (a crash mid-write) are dropped.
  MetricsWriter(const std::filesystem::path& file, std::int64_t first_step);

  // Throws UsageError when an extra field repeats a standard one, RuntimeFailure when writing fails.
  void write(const StepMetrics& metrics);

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::ofstream out_;
};

nlohmann::ordered_json to_json(const StepMetrics& metrics);

// Every record of a metrics file, in order; throws DataError naming the line of a malformed one.
std::vector<nlohmann::ordered_json> read_metrics(const std::filesystem::path& file);

}  // namespace attnscale

#include "framework/io/metrics.h"

#include <string>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Keeps the records of steps before first_step; rewrites the file only when something goes.
void drop_records_from(const fs::path& file, std::int64_t first_step) {
  std::ifstream in(file);
  if (!in) return;
  std::string kept, line;
  bool dropped = false;
  while (std::getline(in, line)) {
    const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool keep = record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
                      record["step"].get<std::int64_t>() < first_step;
    if (keep) kept += line + '\n';
    dropped = dropped || !keep;
  }
  in.close();
  if (!dropped) return;
  const fs::path partial = fs::path(file).concat(".tmp");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << kept;
    if (!out.flush()) throw RuntimeFailure(fmt::format("[metrics] cannot write {}", partial.string()));
  }
  std::error_code ec;
  fs::rename(partial, file, ec);
  if (ec) throw RuntimeFailure(fmt::format("[metrics] cannot replace {}: {}", file.string(), ec.message()));
}

}  // namespace

json to_json(const StepMetrics& m) {
  json record = {{"step", m.step},
                 {"loss", m.loss},
                 {"lr", m.lr},
                 {"grad_norm", m.grad_norm},
                 {"tokens_per_s", m.tokens_per_s},
                 {"step_time_s", m.step_time_s},
                 {"comm_time_s", m.comm_time_s},
                 {"peak_mem_bytes", m.peak_mem_bytes}};
  if (m.peak_device_mem_bytes >= 0) record["peak_device_mem_bytes"] = m.peak_device_mem_bytes;
  if (!m.extra.is_object()) throw UsageError("[metrics] extra fields must be a JSON object");
  for (const auto& [name, value] : m.extra.items()) {
    if (record.contains(name))
      throw UsageError(fmt::format("[metrics] extra field '{}' repeats a standard field", name));
    record[name] = value;
  }
  return record;
}

MetricsWriter::MetricsWriter(const fs::path& file, std::int64_t first_step) : file_(file) {
  drop_records_from(file_, first_step);
  out_.open(file_, std::ios::binary | std::ios::app);
  if (!out_) throw RuntimeFailure(fmt::format("[metrics] cannot open {} for writing", file_.string()));
}

void MetricsWriter::write(const StepMetrics& metrics) {
  out_ << to_json(metrics).dump() << '\n';
  out_.flush();
  if (!out_) throw RuntimeFailure(fmt::format("[metrics] cannot write {}", file_.string()));
}

std::vector<json> read_metrics(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw DataError(fmt::format("[metrics] cannot open {}", file.string()));
  std::vector<json> records;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object())
      throw DataError(fmt::format("[metrics] {}:{}: not a JSON object", file.string(), number));
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace attnscale

#include "framework/io/run_dir.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "base/error.h"
#include "base/logging.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;

std::string timestamp(std::chrono::system_clock::time_point start) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(start);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%d-%H%M%S", &local);
  return text;
}

// Writes beside the target and renames, so a crash never leaves a half-written config.yaml.
void write_file_atomically(const fs::path& target, const std::string& content) {
  const fs::path partial = fs::path(target).concat(".tmp");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw RuntimeFailure(fmt::format("[run_dir] cannot write {}", partial.string()));
  }
  std::error_code ec;
  fs::rename(partial, target, ec);
  if (ec) throw RuntimeFailure(fmt::format("[run_dir] cannot rename {} to {}: {}", partial.string(),
                                           target.string(), ec.message()));
}

}  // namespace

RunDir resolve_run_dir(const Config& cfg, std::chrono::system_clock::time_point start) {
  RunDir dir;
  dir.root = cfg.run.dir.empty() ? fs::path("runs") / fmt::format("{}-{}", cfg.run.name, timestamp(start))
                                 : fs::path(cfg.run.dir);
  dir.config_file = dir.root / "config.yaml";
  dir.metrics_file = dir.root / "metrics.jsonl";
  dir.log_file = dir.root / "log.txt";
  dir.checkpoint_dir = cfg.checkpoint.dir.empty() ? dir.root / "checkpoints" : fs::path(cfg.checkpoint.dir);
  return dir;
}

RunDir prepare_run_dir(const Config& cfg, int rank, std::chrono::system_clock::time_point start) {
  RunDir dir = resolve_run_dir(cfg, start);
  if (rank != 0) return dir;
  std::error_code ec;
  if (cfg.run.dir.empty() && fs::exists(dir.root, ec))
    throw ConfigError(fmt::format("[run_dir] {} already exists (another run named '{}' started this second); "
                                  "set run.dir or run.name",
                                  dir.root.string(), cfg.run.name));
  if (!cfg.run.dir.empty() && cfg.train.resume == "none" && fs::exists(dir.config_file, ec))
    throw ConfigError(fmt::format("[run_dir] run.dir {} already holds a run ({}); choose another run.dir, or "
                                  "set train.resume=auto to continue it",
                                  dir.root.string(), dir.config_file.string()));
  fs::create_directories(dir.root, ec);
  if (ec) throw RuntimeFailure(fmt::format("[run_dir] cannot create {}: {}", dir.root.string(), ec.message()));
  add_log_file(dir.log_file.string());
  return dir;
}

void write_run_config(const Config& cfg, const RunDir& dir) {
  write_file_atomically(dir.config_file,
                        fmt::format("# attnscale {}: resolved config of run '{}'\n{}", ATTNSCALE_VERSION,
                                    cfg.run.name, to_yaml(cfg)));
}

}  // namespace attnscale

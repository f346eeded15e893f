// The run directory: where a run keeps its resolved config.yaml, metrics.jsonl, log.txt and
// checkpoints. It is run.dir, or runs/<run.name>-<YYYYmmdd-HHMMSS> (local time) when that is empty.
//
// All ranks must agree on the path, so every rank passes the same start time: rank 0's, broadcast
// (as seconds since the epoch) before this call. Only rank 0 touches the file system; a failure
// there is rank 0's alone, so the caller agrees on success across ranks before the first collective
// that depends on it.
#pragma once

#include <chrono>
#include <filesystem>

#include "framework/config/config.h"

namespace attnscale {

struct RunDir {
  std::filesystem::path root;
  std::filesystem::path config_file;     // root/config.yaml: the resolved config (loads back as is)
  std::filesystem::path metrics_file;    // root/metrics.jsonl
  std::filesystem::path log_file;        // root/log.txt (rank 0's log)
  std::filesystem::path checkpoint_dir;  // checkpoint.dir, or root/checkpoints when that is empty
};

// The paths only; touches nothing.
RunDir resolve_run_dir(const Config& cfg, std::chrono::system_clock::time_point start);

// Resolves the paths and, on rank 0: creates the directory and adds log.txt to the logger.
// Refuses (RuntimeFailure, or ConfigError for a clash) when
//  - the default timestamped directory already exists (another run of that name this second), or
//  - run.dir already holds a run (a config.yaml) and train.resume is none: results would mix.
RunDir prepare_run_dir(const Config& cfg, int rank, std::chrono::system_clock::time_point start);

// Writes config.yaml (atomically). The trainer calls it once the run holds the checkpoint
// directory's lock, so a second run refused by that lock leaves the first run's config.yaml as it was.
void write_run_config(const Config& cfg, const RunDir& dir);

}  // namespace attnscale

// The on-disk layout of attnscale checkpoints (DESIGN.md 6). One directory per saved step:
//
//   <checkpoint.dir>/
//     latest                 "step_00000200": the newest committed checkpoint, for people and tools
//                            (resume=auto takes the highest valid step: a crash between the commit
//                            and this update leaves it one behind)
//     step_00000100/         committed: renamed from step_00000100.tmp after everything was fsync'ed
//       manifest.json        format and program version, step, world layout, resolved config, and
//                            the size and SHA-256 of every other file; its own checksum inside
//       model.h5             /params/<module path>, /buffers/<module path>, /optimizer/<state name>
//                            (e.g. /optimizer/adam.m/blocks.0.mlp.fc1.weight); attributes
//                            format_version, step, program_version, optimizer
//       ranks.h5             /rank_<r>/data_cursor (int64), /rank_<r>/generators/<stream> (uint64
//                            [seed, offset]) for every rank r of the saving job; root attributes
//                            world_size, dp, cp, ulysses
//       metrics.jsonl        the run's metrics records up to this step (when metrics were written)
//     step_00000200.tmp/     a save in progress or one that died: never read, removed at start
//     abandoned/step_N/      checkpoints ahead of the step a later run started from (another
//                            trajectory), moved aside by that run; never read
//
// Parameters and optimizer state are replicated over dp x cp in this design, so rank 0 writes them
// once; per-rank state (random streams, data cursor) is gathered to rank 0 and written per rank.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace attnscale::checkpoint {

// Bumped when a reader of the old layout would misread the new one; readers refuse newer versions.
inline constexpr std::int64_t kFormatVersion = 1;
inline constexpr std::string_view kFormatName = "attnscale-checkpoint";

inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kModelFile = "model.h5";
inline constexpr std::string_view kRanksFile = "ranks.h5";
inline constexpr std::string_view kMetricsFile = "metrics.jsonl";
inline constexpr std::string_view kLatestFile = "latest";
inline constexpr std::string_view kTmpSuffix = ".tmp";

// Groups of model.h5.
inline constexpr std::string_view kParamsGroup = "params";
inline constexpr std::string_view kBuffersGroup = "buffers";
inline constexpr std::string_view kOptimizerGroup = "optimizer";

// "step_00000100" (at least 8 digits, so directory listings sort by step).
std::string step_dir_name(std::int64_t step);
// The step of a committed checkpoint directory name; nothing for any other name (".tmp" included).
std::optional<std::int64_t> step_of_dir_name(std::string_view name);
// The group of rank r in ranks.h5: "rank_<r>".
std::string rank_group(int rank);

}  // namespace attnscale::checkpoint

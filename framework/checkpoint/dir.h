// The checkpoint directory as a collection: which committed checkpoints it holds, the `latest`
// pointer, removal of unfinished saves and pruning to the newest K valid ones. Only rank 0 calls
// the functions that change anything.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnscale::checkpoint {

struct CheckpointEntry {
  std::int64_t step = 0;
  std::filesystem::path dir;
};

// Committed checkpoint directories (step_N, never *.tmp) by ascending step; empty when `root` is
// missing.
std::vector<CheckpointEntry> list_checkpoints(const std::filesystem::path& root);

// The directory `latest` names, when the file exists and holds a checkpoint directory name.
std::optional<std::filesystem::path> read_latest(const std::filesystem::path& root);
// Points `latest` at `dir_name` (atomically, durably).
void write_latest(const std::filesystem::path& root, std::string_view dir_name);

// Removes every *.tmp entry of `root` (saves that died, interrupted deletions); returns their names.
std::vector<std::string> remove_unfinished(const std::filesystem::path& root);

// A run that starts at `step` (0 when fresh) moves the committed checkpoints ahead of it into
// <root>/abandoned/: they belong to a trajectory it no longer follows. Afterwards the directory holds
// one trajectory only, so "the newest checkpoint" is simply the highest step. Returns where each
// one went.
std::vector<std::filesystem::path> set_aside_after(const std::filesystem::path& root, std::int64_t step);

// Deletes committed checkpoints older than the newest `keep` valid ones (a manifest whose files
// have the listed sizes) among those with step <= newest_step; invalid ones among those kept stay
// too, so a damaged newest checkpoint never costs the last valid one.
// A deletion first renames the directory to *.tmp, so a crash mid-way never leaves a half-deleted
// checkpoint under a committed name. Returns the deleted directories.
std::vector<std::filesystem::path> prune_checkpoints(const std::filesystem::path& root, std::int64_t keep,
                                                     std::int64_t newest_step);

}  // namespace attnscale::checkpoint

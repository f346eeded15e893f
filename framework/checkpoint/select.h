// Which checkpoint a run resumes from (train.resume), checked before anything is read.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/checkpoint/reader.h"

namespace attnscale::checkpoint {

// The newest valid checkpoint under `root`: the highest valid step (a run moves checkpoints ahead
// of its start aside, so the directory holds one trajectory; `latest` is not trusted, since a crash
// between the commit and its update leaves it one behind). Invalid checkpoints are skipped and
// their reasons appended to `skipped`.
// Nothing when `root` holds no committed checkpoint; CheckpointError listing every reason when it
// holds some and none is valid (a fresh start would silently throw the run away).
std::optional<CheckpointReader> newest_valid_checkpoint(const std::filesystem::path& root,
                                                        std::vector<std::string>& skipped);

// train.resume: "none" -> nothing; "auto" -> newest_valid_checkpoint(checkpoint_dir); otherwise a
// path: a checkpoint directory (step_N, or any directory with a manifest.json), which must be
// valid, or a directory of checkpoints, which must hold a valid one.
std::optional<CheckpointReader> select_checkpoint(std::string_view resume, const std::filesystem::path& checkpoint_dir,
                                                  std::vector<std::string>& skipped);

}  // namespace attnscale::checkpoint

// Whether a checkpoint may resume under the current config. The checkpoint keeps the resolved
// config text (to_yaml); the keys are compared one by one:
//  - free to change: where and how the run executes, logs and checkpoints (run.name, run.dir,
//    train.resume, train.log_every, train.eval_*, train.threads, train.skip_nonfinite_steps, parallel.*, checkpoint.*,
//    logging.*). parallel.* is the layout: resharding maps the per-rank state.
//  - change with a warning: the run length and optimizer hyperparameters (train.steps, optim.*
//    except optim.name). They steer the run from here on; the saved state still means the same.
//  - every other key must match (model.*, attention.*, data.*, run.seed, optim.name,
//    train.accum_steps, and keys added later): otherwise the saved tensors, random streams or data
//    position would mean something else. A mismatch is a CheckpointError listing each key with its
//    saved and current values.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "framework/config/config.h"

namespace attnscale::checkpoint {

struct ConfigChange {
  std::string key;  // "model.d_model"
  std::string saved;
  std::string current;
};

struct ConfigComparison {
  std::vector<ConfigChange> refused;
  std::vector<ConfigChange> warned;
};

// CheckpointError naming `source` when the saved text is not a config.
ConfigComparison compare_configs(std::string_view saved_yaml, const Config& current, const std::filesystem::path& source);

// Throws CheckpointError naming `source` and every refused change; returns the warnings to log.
std::vector<std::string> check_resumable(std::string_view saved_yaml, const Config& current,
                                         const std::filesystem::path& source);

}  // namespace attnscale::checkpoint

// The one place that maps model.type to the model + data pairing the trainer runs.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"

namespace attnscale::train {

std::unique_ptr<TrainTask> make_task(const Config& cfg, const ParallelContext& parallel = {});

}  // namespace attnscale::train

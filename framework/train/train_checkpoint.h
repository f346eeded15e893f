// Checkpoints of a training run: what the trainer, its task and its optimizer hold, saved through
// framework/checkpoint/writer.h and restored for train.resume (auto | none | a path).
//
// What is saved: parameters and buffers by module path, the optimizer state (moments and step
// counts; the learning rate is a function of the step), the step, the task's random streams and the
// data cursor of every rank, metrics.jsonl so far, the resolved config and the grid layout. With
// the same layout a resumed run continues bit-exactly; with another one, per-rank state maps by the
// rule in framework/checkpoint/reshard.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "distributed/comm/communicator.h"
#include "framework/config/config.h"
#include "framework/checkpoint/group.h"
#include "framework/checkpoint/lock.h"
#include "framework/checkpoint/writer.h"
#include "framework/io/run_dir.h"
#include "framework/optim/optimizer.h"
#include "framework/train/task.h"

namespace attnscale::train {

// Where a run stands after `step` optimizer steps.
struct TrainPosition {
  std::int64_t step = 0;
  std::int64_t data_cursor = 0;  // the next training batch index
};

class TrainCheckpoints {
 public:
  // Collective. `world`: every rank of the run (null: this process alone); its size must be dp x cp.
  // Rank 0 locks checkpoint.dir for the life of this object (framework/checkpoint/lock.h: every
  // rank throws CheckpointError when another run holds it), then removes unfinished saves.
  TrainCheckpoints(const Config& cfg, const RunDir& run_dir, Communicator* world);

  // Collective. Restores what train.resume names into the model, the optimizer and the task's random
  // streams, and on rank 0 metrics.jsonl up to that step; returns where to continue, or nothing for
  // a fresh start. A checkpoint that is invalid or does not fit this model and config throws
  // CheckpointError on every rank.
  std::optional<TrainPosition> resume(TrainTask& task, Optimizer& optimizer);

  // Whether the run saves after `step`: every checkpoint.every steps and after the last one.
  bool due(std::int64_t step) const;

  // Collective. Saves the state after position.step. A failed save throws the same RuntimeFailure
  // on every rank and ends the run; the previous checkpoint stays valid for train.resume=auto.
  void save(const TrainPosition& position, TrainTask& task, const Optimizer& optimizer);

 private:
  const Config& cfg_;
  const RunDir& run_dir_;
  GridShape grid_;
  checkpoint::CheckpointGroup group_;
  std::unique_ptr<checkpoint::CheckpointDirLock> lock_;  // rank 0's; before writer_, which cleans the directory
  checkpoint::CheckpointWriter writer_;
};

}  // namespace attnscale::train

// The training loop: for each optimizer step, accumulate gradients over micro-batches, clip, set
// the scheduled learning rate, update; log metrics, progress and evaluations on rank 0.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "distributed/data_parallel/gradient_reducer.h"
#include "framework/config/config.h"
#include "framework/io/run_dir.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/optimizer.h"
#include "framework/train/task.h"
#include "framework/train/train_checkpoint.h"

namespace attnscale::train {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
};

struct TrainSummary {
  int64_t steps = 0;
  double first_loss = 0;
  double last_loss = 0;
  EvalResult final_eval;
  double tokens_per_s = 0;  // over the whole run
  int64_t resumed_from_step = 0;  // the checkpoint's step (0: a fresh start)
  std::vector<double> losses;     // training loss of every step this run took, in order
};

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& optim, std::vector<NamedTensor> params);
LrScheduleOptions schedule_options(const Config& cfg);

class Trainer {
 public:
  // `run_dir` may be null (tests): nothing is written then and nothing resumed. `world`: every rank
  // of the run, for checkpoints, gradient reduction and metrics (null: this process alone).
  Trainer(const Config& cfg, TrainTask& task, const RunDir* run_dir, int rank, Communicator* world = nullptr);

  TrainSummary run();
  EvalResult evaluate();

 private:
  // Runs train.accum_steps micro-batches from `cursor` (advanced past them) with their backward,
  // leaves the step's mean gradient in the parameters and returns the step's loss share.
  double accumulate_micro_batches(int64_t& cursor, int64_t& correct, int64_t& scored, int64_t& tokens);
  // Multiplies every parameter's gradient by `factor`.
  void scale_gradients(double factor);

  const Config& cfg_;
  TrainTask& task_;
  const RunDir* run_dir_;
  int rank_;
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  Communicator* world_;
  std::unique_ptr<GradientReducer> reducer_;      // with more than one rank
  std::optional<TrainCheckpoints> checkpoints_;  // when there is a run directory
};

}  // namespace attnscale::train

// The training loop: for each optimizer step, accumulate gradients over micro-batches, clip, set
// the scheduled learning rate, update; log metrics, progress and evaluations on rank 0.
//
// A step whose loss or gradient is NaN or infinite on any rank is skipped on every rank alike (the
// ranks agree through the all-reduce that sums the step's loss): no update, the gradients dropped,
// the batch and the learning-rate schedule consumed as for any step. At most
// train.skip_nonfinite_steps steps are skipped in one process's run; the next one stops the run
// (NonFiniteStep). The default 0 stops at the first.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distributed/data_parallel/gradient_reducer.h"
#include "framework/config/config.h"
#include "framework/io/run_dir.h"
#include "framework/optim/lr_schedule.h"
#include "framework/optim/mixed_precision.h"
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
  std::vector<double> losses;     // training loss of every step this run took, in order (skipped steps left out)
  std::vector<int64_t> skipped_steps;  // steps skipped for a non-finite loss or gradient (train.skip_nonfinite_steps)
};

// A non-finite loss or gradient once train.skip_nonfinite_steps is used up (exit code 1). The same
// message on every rank, naming the step, the first rank that saw it and what it saw.
class NonFiniteStep : public RuntimeFailure {
 public:
  using RuntimeFailure::RuntimeFailure;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& optim, std::vector<NamedTensor> params);
LrScheduleOptions schedule_options(const Config& cfg);
// model.dtype as a tensor dtype (f32 or bf16).
DType model_dtype(const ModelConfig& model);

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
  struct NonFiniteReasons {
    std::string origin;        // this rank's own loss or gradients, before the reduction
    std::string after_reduce;  // the reduced gradients (another rank's values, or an overflowing norm)
    bool any() const { return !origin.empty() || !after_reduce.empty(); }
  };
  // Collective (on the stop path). Skips `step` within the budget, or throws NonFiniteStep.
  void skip_nonfinite_step(int64_t step, const NonFiniteReasons& reasons);

  const Config& cfg_;
  TrainTask& task_;
  const RunDir* run_dir_;
  int rank_;
  MixedPrecision precision_;  // model.dtype: the optimizer updates its masters
  std::unique_ptr<Optimizer> optimizer_;
  LrSchedule schedule_;
  Communicator* world_;
  std::unique_ptr<GradientReducer> reducer_;      // with more than one rank
  std::optional<TrainCheckpoints> checkpoints_;  // when there is a run directory
  int64_t skipped_nonfinite_ = 0;                // steps skipped so far (train.skip_nonfinite_steps)
};

}  // namespace attnscale::train

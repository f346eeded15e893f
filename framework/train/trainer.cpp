#include "framework/train/trainer.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include "base/logging.h"
#include "framework/checkpoint/group.h"
#include "framework/core/autograd/node.h"
#include "framework/io/metrics.h"
#include "framework/io/progress.h"
#include "framework/optim/adam.h"
#include "framework/optim/clip_grad.h"
#include "framework/optim/sgd.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "framework/core/tensor/non_finite.h"

namespace attnscale::train {

std::unique_ptr<Optimizer> make_optimizer(const OptimConfig& o, std::vector<NamedTensor> params) {
  switch (o.name) {
    case config::Optimizer::sgd:
      return std::make_unique<Sgd>(std::move(params), SgdOptions{o.lr, o.momentum, 0.0, o.weight_decay, o.nesterov});
    case config::Optimizer::adam:
      return std::make_unique<Adam>(std::move(params), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
    case config::Optimizer::adamw:
      return std::make_unique<AdamW>(std::move(params), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay});
  }
  throw UsageError("[optim] unknown optimizer");
}

DType model_dtype(const ModelConfig& model) {
  return model.dtype == config::ModelDType::bf16 ? DType::bf16 : DType::f32;
}

LrScheduleOptions schedule_options(const Config& cfg) {
  LrScheduleOptions s;
  s.base_lr = cfg.optim.lr;
  s.decay = lr_decay_from_name(config::to_string(cfg.optim.schedule));
  s.warmup_steps = std::min(cfg.optim.warmup_steps, cfg.train.steps - 1);
  s.total_steps = cfg.train.steps;
  s.min_lr_ratio = cfg.optim.min_lr_ratio;
  return s;
}

Trainer::Trainer(const Config& cfg, TrainTask& task, const RunDir* run_dir, int rank, Communicator* world)
    : cfg_(cfg),
      task_(task),
      run_dir_(run_dir),
      rank_(rank),
      precision_(task.model().named_parameters(), model_dtype(cfg.model)),
      optimizer_(make_optimizer(cfg.optim, precision_.masters())),
      schedule_(schedule_options(cfg)),
      world_(world) {
  if (world_ && world_->size() > 1) reducer_ = std::make_unique<GradientReducer>(optimizer_->params(), *world_);
  if (run_dir_) {
    checkpoints_.emplace(cfg_, *run_dir_, world);  // takes the checkpoint directory's lock
    if (rank_ == 0) write_run_config(cfg_, *run_dir_);
  }
}

namespace {
// Sums (loss, correct, scored, tokens, non-finite ranks) over every rank: each rank's loss is its
// share of the mean. One all-reduce carries the step's statistics and the skip decision.
void sum_over_ranks(Communicator* world, double& loss, int64_t& correct, int64_t& scored, int64_t& tokens,
                    int64_t& nonfinite_ranks) {
  if (!world || world->size() == 1) return;
  std::array<double, 5> v{loss, static_cast<double>(correct), static_cast<double>(scored), static_cast<double>(tokens),
                          static_cast<double>(nonfinite_ranks)};
  world->all_reduce(v, ReduceOp::sum);
  loss = v[0];
  correct = static_cast<int64_t>(v[1]), scored = static_cast<int64_t>(v[2]), tokens = static_cast<int64_t>(v[3]);
  nonfinite_ranks = static_cast<int64_t>(v[4]);
}

// What is not finite in this rank's own loss and gradients ("" when all is).
std::string local_nonfinite(double loss, std::span<const NamedTensor> params) {
  if (!std::isfinite(loss)) return fmt::format("[train] the loss on this rank is {}", loss);
  NamedTensors grads;
  for (const NamedTensor& p : params)
    if (p.tensor.grad().defined()) grads.push_back({p.name, p.tensor.grad()});
  const auto found = first_non_finite(grads);
  return found ? fmt::format("[train] the gradient of parameter {}", describe(*found)) : std::string();
}

void label_step(Communicator* world, std::string label) {
  if (world) world->set_step(std::move(label));
}

int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}
}  // namespace

void Trainer::skip_nonfinite_step(int64_t step, const NonFiniteReasons& reasons) {
  const int64_t budget = cfg_.train.skip_nonfinite_steps;
  if (skipped_nonfinite_ < budget) {
    ++skipped_nonfinite_;
    if (!reasons.origin.empty()) LOG_WARN("{} at step {}", reasons.origin, step);
    if (rank_ == 0)
      LOG_WARN("[train] step {}: non-finite loss or gradient: skipped without an update ({} of "
               "train.skip_nonfinite_steps = {})",
               step, skipped_nonfinite_, budget);
    return;
  }
  // Stop on every rank with the same message, from the lowest rank whose own values were not finite
  // (or, when none was, the lowest that saw it after the reduction).
  checkpoint::CheckpointGroup group(world_);
  const auto failure = [&](const std::string& reason) {
    return reason.empty() ? checkpoint::Failure{} : checkpoint::Failure{1, reason, rank_};
  };
  checkpoint::Failure first = group.first_failure(failure(reasons.origin));
  if (!first) first = group.first_failure(failure(reasons.after_reduce));
  const std::string limit = budget == 0 ? std::string("train.skip_nonfinite_steps = 0")
                                        : fmt::format("all train.skip_nonfinite_steps = {} skips are used", budget);
  throw NonFiniteStep(fmt::format("[train] step {}: non-finite loss or gradient and {}: the run stops (rank {}: {}). "
                                  "Lower optim.lr, set optim.grad_clip, or raise train.skip_nonfinite_steps",
                                  step, limit, first.rank, first.message));
}

EvalResult Trainer::evaluate() {
  double loss = 0;
  int64_t correct = 0, scored = 0, tokens = 0;
  for (int64_t i = 0; i < cfg_.train.eval_batches; ++i) {
    const BatchResult r = task_.eval_batch(i);
    loss += r.loss.item();
    correct += r.correct;
    scored += r.scored;
  }
  int64_t nonfinite_ranks = 0;
  sum_over_ranks(world_, loss, correct, scored, tokens, nonfinite_ranks);
  return {loss / static_cast<double>(cfg_.train.eval_batches),
          scored ? static_cast<double>(correct) / static_cast<double>(scored) : 0.0};
}

// Each micro-batch's loss is a mean over its own items (BatchResult::loss_count). Weighting micro-batch
// m by its count N_m and dividing the summed gradients by N = sum N_m gives the mean over every item
// of the step, as one batch of data.batch_size would, also where micro-batches score different
// numbers of targets (variable-length sequences). N_m is applied as the gradients accumulate (N is
// not known before the last micro-batch) and 1 / N once at the end. A task that gives no counts
// (the first micro-batch has none) gets equal weights, 1 / accum_steps each.
double Trainer::accumulate_micro_batches(int64_t& cursor, int64_t& correct, int64_t& scored, int64_t& tokens) {
  const int64_t accum = cfg_.train.accum_steps;
  std::vector<double> losses, weights;
  bool by_count = true;
  for (int64_t micro = 0; micro < accum; ++micro) {
    const BatchResult r = task_.train_batch(cursor++);
    if (micro == 0) by_count = r.loss_count > 0;
    const double weight = by_count ? static_cast<double>(std::max<int64_t>(r.loss_count, 0)) : 1.0;
    mul(r.loss, weight).backward();
    precision_.collect_gradients();
    losses.push_back(r.loss.item());
    weights.push_back(weight);
    correct += r.correct, scored += r.scored, tokens += r.tokens;
  }
  double total = 0;
  for (const double w : weights) total += w;
  scale_gradients(1.0 / total);
  double loss = 0;
  for (size_t m = 0; m < losses.size(); ++m) loss += losses[m] * weights[m] / total;
  return loss;
}

void Trainer::scale_gradients(double factor) {
  autograd::NoGradGuard no_grad;
  for (const NamedTensor& p : optimizer_->params())
    if (const Tensor g = p.tensor.grad(); g.defined()) p.tensor.set_grad(mul(g, factor));
}

TrainSummary Trainer::run() {
  using Clock = std::chrono::steady_clock;
  TrainPosition position;  // after `step` steps; the cursor is the next training batch
  label_step(world_, "resume");
  if (checkpoints_)
    if (const auto resumed = checkpoints_->resume(task_, *optimizer_)) {
      position = *resumed;
      precision_.refresh_model();
    }
  std::optional<MetricsWriter> metrics;
  if (run_dir_ && rank_ == 0 && cfg_.logging.metrics)
    metrics.emplace(run_dir_->metrics_file, position.step > 0 ? position.step + 1 : 0);
  ProgressLine progress(cfg_.train.steps, cfg_.train.log_every, cfg_.logging.progress, rank_);
  LOG_INFO("training {} parameters for {} steps; chance accuracy {:.3f}", task_.model().parameter_count(),
           cfg_.train.steps, task_.chance_accuracy());

  TrainSummary summary;
  summary.resumed_from_step = position.step;
  summary.steps = position.step;
  const auto run_start = Clock::now();
  int64_t run_tokens = 0;
  const int64_t accum = cfg_.train.accum_steps;
  for (int64_t step = position.step + 1; step <= cfg_.train.steps; ++step) {
    label_step(world_, fmt::format("train step {}", step));
    const auto step_start = Clock::now();
    double loss = 0;
    int64_t correct = 0, scored = 0, tokens = 0;
    if (accum == 1) {
      const BatchResult r = task_.train_batch(position.data_cursor++);
      r.loss.backward();
      precision_.collect_gradients();
      loss = r.loss.item();
      correct = r.correct, scored = r.scored, tokens = r.tokens;
    } else {
      loss = accumulate_micro_batches(position.data_cursor, correct, scored, tokens);
    }
    // Non-finite values: this rank's own (its loss and gradients before the reduction), then after
    // the reduction (another rank's, or an overflowing norm). clip_grad_norm throws before changing anything.
    NonFiniteReasons nonfinite{local_nonfinite(loss, optimizer_->params()), ""};
    auto comm_start = Clock::now();
    if (reducer_) reducer_->reduce();
    double comm_time = std::chrono::duration<double>(Clock::now() - comm_start).count();
    double grad_norm = 0;
    try {
      grad_norm = clip_grad_norm(optimizer_->params(), cfg_.optim.grad_clip);
    } catch (const NonFiniteGradient& e) {
      nonfinite.after_reduce = e.what();
    }
    int64_t nonfinite_ranks = nonfinite.any() ? 1 : 0;
    comm_start = Clock::now();
    sum_over_ranks(world_, loss, correct, scored, tokens, nonfinite_ranks);
    comm_time += std::chrono::duration<double>(Clock::now() - comm_start).count();
    const double lr = schedule_.lr(step);
    const bool skipped = nonfinite_ranks > 0;  // the same on every rank: the count is all-reduced
    if (skipped) {
      skip_nonfinite_step(step, nonfinite);
      summary.skipped_steps.push_back(step);
    } else {
      optimizer_->set_lr(lr);
      optimizer_->step();
      precision_.refresh_model();
    }
    optimizer_->zero_grad();

    const double step_time = std::chrono::duration<double>(Clock::now() - step_start).count();
    const double tokens_per_s = static_cast<double>(tokens) / step_time;
    run_tokens += tokens;
    if (!skipped) {
      if (summary.losses.empty()) summary.first_loss = loss;
      summary.losses.push_back(loss);
      summary.last_loss = loss;
      progress.update(step, loss, tokens_per_s);
    }
    summary.steps = step;

    const bool eval_now = (cfg_.train.eval_every > 0 && step % cfg_.train.eval_every == 0) || step == cfg_.train.steps;
    std::optional<EvalResult> eval;
    if (eval_now) {
      label_step(world_, fmt::format("eval after step {}", step));
      eval = evaluate();
      LOG_INFO("eval at step {}: loss {:.4f}, accuracy {:.4f}", step, eval->loss, eval->accuracy);
    }
    if (metrics && (step % cfg_.train.log_every == 0 || step == cfg_.train.steps || eval || skipped)) {
      StepMetrics m;
      m.step = step;
      m.loss = loss;
      m.lr = lr;
      m.grad_norm = grad_norm;
      m.tokens_per_s = tokens_per_s;
      m.step_time_s = step_time;
      m.comm_time_s = comm_time;
      m.peak_mem_bytes = peak_resident_bytes();
      if (const Device device = task_.model().device(); device.is_cuda())
        m.peak_device_mem_bytes = static_cast<int64_t>(cuda::memory_stats(device).peak_bytes);
      m.extra["train_accuracy"] = scored ? static_cast<double>(correct) / static_cast<double>(scored) : 0.0;
      if (skipped_nonfinite_ > 0) m.extra["skipped_nonfinite_steps"] = skipped_nonfinite_;
      if (eval) {
        m.extra["eval_loss"] = eval->loss;
        m.extra["eval_accuracy"] = eval->accuracy;
      }
      metrics->write(m);
    }
    if (eval) summary.final_eval = *eval;
    position.step = step;
    if (checkpoints_ && checkpoints_->due(step)) {
      label_step(world_, fmt::format("checkpoint after step {}", step));
      checkpoints_->save(position, task_, *optimizer_);
    }
  }
  if (position.step >= cfg_.train.steps && summary.losses.empty())
    LOG_INFO("nothing to train: the checkpoint is at step {} and train.steps is {}", position.step, cfg_.train.steps);
  summary.tokens_per_s =
      static_cast<double>(run_tokens) / std::chrono::duration<double>(Clock::now() - run_start).count();
  return summary;
}

}  // namespace attnscale::train

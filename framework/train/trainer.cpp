#include "framework/train/trainer.h"

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <optional>

#include "base/logging.h"
#include "framework/io/metrics.h"
#include "framework/io/progress.h"
#include "framework/optim/adam.h"
#include "framework/optim/clip_grad.h"
#include "framework/optim/sgd.h"
#include "framework/core/ops/ops.h"

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
      optimizer_(make_optimizer(cfg.optim, task.model().named_parameters())),
      schedule_(schedule_options(cfg)),
      world_(world) {
  if (world_ && world_->size() > 1) reducer_ = std::make_unique<GradientReducer>(optimizer_->params(), *world_);
  if (run_dir_) checkpoints_.emplace(cfg_, *run_dir_, world);
}

namespace {
// Sums (loss, correct, scored, tokens) over every rank: each rank's loss is its share of the mean.
void sum_over_ranks(Communicator* world, double& loss, int64_t& correct, int64_t& scored, int64_t& tokens) {
  if (!world || world->size() == 1) return;
  std::array<double, 4> v{loss, static_cast<double>(correct), static_cast<double>(scored), static_cast<double>(tokens)};
  world->all_reduce(v, ReduceOp::sum);
  loss = v[0];
  correct = static_cast<int64_t>(v[1]), scored = static_cast<int64_t>(v[2]), tokens = static_cast<int64_t>(v[3]);
}

int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}
}  // namespace

EvalResult Trainer::evaluate() {
  double loss = 0;
  int64_t correct = 0, scored = 0, tokens = 0;
  for (int64_t i = 0; i < cfg_.train.eval_batches; ++i) {
    const BatchResult r = task_.eval_batch(i);
    loss += r.loss.item();
    correct += r.correct;
    scored += r.scored;
  }
  sum_over_ranks(world_, loss, correct, scored, tokens);
  return {loss / static_cast<double>(cfg_.train.eval_batches),
          scored ? static_cast<double>(correct) / static_cast<double>(scored) : 0.0};
}

TrainSummary Trainer::run() {
  using Clock = std::chrono::steady_clock;
  TrainPosition position;  // after `step` steps; the cursor is the next training batch
  if (checkpoints_)
    if (const auto resumed = checkpoints_->resume(task_, *optimizer_)) position = *resumed;
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
    const auto step_start = Clock::now();
    double loss = 0;
    int64_t correct = 0, scored = 0, tokens = 0;
    for (int64_t micro = 0; micro < accum; ++micro) {
      const BatchResult r = task_.train_batch(position.data_cursor++);
      mul(r.loss, 1.0 / static_cast<double>(accum)).backward();
      loss += r.loss.item() / static_cast<double>(accum);
      correct += r.correct, scored += r.scored, tokens += r.tokens;
    }
    const auto comm_start = Clock::now();
    if (reducer_) reducer_->reduce();
    sum_over_ranks(world_, loss, correct, scored, tokens);
    const double comm_time = std::chrono::duration<double>(Clock::now() - comm_start).count();
    const double grad_norm = clip_grad_norm(optimizer_->params(), cfg_.optim.grad_clip);
    const double lr = schedule_.lr(step);
    optimizer_->set_lr(lr);
    optimizer_->step();
    optimizer_->zero_grad();

    const double step_time = std::chrono::duration<double>(Clock::now() - step_start).count();
    const double tokens_per_s = static_cast<double>(tokens) / step_time;
    run_tokens += tokens;
    if (summary.losses.empty()) summary.first_loss = loss;
    summary.losses.push_back(loss);
    summary.last_loss = loss;
    summary.steps = step;
    progress.update(step, loss, tokens_per_s);

    const bool eval_now = (cfg_.train.eval_every > 0 && step % cfg_.train.eval_every == 0) || step == cfg_.train.steps;
    std::optional<EvalResult> eval;
    if (eval_now) {
      eval = evaluate();
      LOG_INFO("eval at step {}: loss {:.4f}, accuracy {:.4f}", step, eval->loss, eval->accuracy);
    }
    if (metrics && (step % cfg_.train.log_every == 0 || step == cfg_.train.steps || eval)) {
      StepMetrics m;
      m.step = step;
      m.loss = loss;
      m.lr = lr;
      m.grad_norm = grad_norm;
      m.tokens_per_s = tokens_per_s;
      m.step_time_s = step_time;
      m.comm_time_s = comm_time;
      m.peak_mem_bytes = peak_resident_bytes();
      m.extra["train_accuracy"] = scored ? static_cast<double>(correct) / static_cast<double>(scored) : 0.0;
      if (eval) {
        m.extra["eval_loss"] = eval->loss;
        m.extra["eval_accuracy"] = eval->accuracy;
      }
      metrics->write(m);
    }
    if (eval) summary.final_eval = *eval;
    position.step = step;
    if (checkpoints_ && checkpoints_->due(step)) checkpoints_->save(position, task_, *optimizer_);
  }
  if (position.step >= cfg_.train.steps && summary.losses.empty())
    LOG_INFO("nothing to train: the checkpoint is at step {} and train.steps is {}", position.step, cfg_.train.steps);
  summary.tokens_per_s =
      static_cast<double>(run_tokens) / std::chrono::duration<double>(Clock::now() - run_start).count();
  return summary;
}

}  // namespace attnscale::train

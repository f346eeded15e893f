// Shared by tests/train and tests/mpi: a training task that makes chosen batches non-finite on this
// rank, and records the parameters the trainer holds before each batch (so a test sees whether a
// step updated them).
#pragma once

#include <cmath>
#include <set>
#include <vector>

#include "framework/config/config.h"
#include "framework/core/ops/ops.h"
#include "framework/train/task.h"

namespace attnscale::test {

// A TransformerLM that trains a step in milliseconds; batch 12 splits over 1 to 4 dp ranks.
inline Config tiny_lm_config(int dp, int64_t skip_nonfinite_steps) {
  Config cfg;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 17;
  cfg.data.vocab_size = 12;
  cfg.data.batch_size = 12;
  cfg.parallel.dp = dp;
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 4;
  cfg.train.eval_batches = 1;
  cfg.train.skip_nonfinite_steps = skip_nonfinite_steps;
  cfg.logging.progress = config::ProgressMode::off;
  validate(cfg);
  return cfg;
}

enum class Poison {
  gradient,  // the loss stays finite, the first parameter's gradient is NaN
  loss,      // the loss is NaN
};

class PoisonedTask : public train::TrainTask {
 public:
  PoisonedTask(train::TrainTask& inner, std::set<int64_t> batches, Poison poison = Poison::gradient)
      : inner_(inner), batches_(std::move(batches)), poison_(poison) {}

  nn::Module& model() override { return inner_.model(); }
  train::BatchResult train_batch(int64_t index) override {
    params_before_.push_back(flat_parameters());
    train::BatchResult r = inner_.train_batch(index);
    if (!batches_.contains(index)) return r;
    const Tensor& first = inner_.model().named_parameters().front().tensor;
    if (poison_ == Poison::loss) {
      r.loss = add(r.loss, std::nan(""));
    } else {
      // sqrt(0 * sum(w)) adds 0 to the loss; its derivative 1 / (2 sqrt(0)) = inf, times 0, is NaN.
      r.loss = add(r.loss, sqrt(mul(sum(first), 0.0)));
    }
    return r;
  }
  train::BatchResult eval_batch(int64_t index) override { return inner_.eval_batch(index); }
  double chance_accuracy() const override { return inner_.chance_accuracy(); }
  std::vector<train::NamedGenerator> generators() override { return inner_.generators(); }

  // Every parameter value, in order, as the trainer held them before training batch i.
  const std::vector<std::vector<double>>& params_before() const { return params_before_; }
  std::vector<double> flat_parameters() const {
    std::vector<double> values;
    for (const NamedTensor& p : inner_.model().named_parameters())
      for (const double v : p.tensor.detach().to(DType::f64).to_vector<double>()) values.push_back(v);
    return values;
  }

 private:
  train::TrainTask& inner_;
  std::set<int64_t> batches_;
  Poison poison_;
  std::vector<std::vector<double>> params_before_;
};

}  // namespace attnscale::test

// The gradient a parallel run applies, not only its loss curve. The other "matches one rank" tests
// train with AdamW and clipping at 1.0, which both ignore a constant factor on the gradient, so a
// reduction that summed where it should average would pass them. Here every run takes one plain
// SGD step (lr 1, no momentum, weight decay or clipping) through the Trainer, so the update it
// makes is exactly minus the reduced gradient, and that update is compared with one rank's on the
// same global batch: for dp, cp and dp x cp, for the TransformerLM, seq2seq and HAN, and for
// train.accum_steps against one batch the accumulation steps together make up.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/han_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// One SGD step of size 1 and nothing else between the gradient and the parameters.
void plain_sgd_step(Config& cfg) {
  cfg.optim.name = config::Optimizer::sgd;
  cfg.optim.lr = 1.0;
  cfg.optim.momentum = 0;
  cfg.optim.weight_decay = 0;
  cfg.optim.grad_clip = 0;
  cfg.optim.schedule = config::Schedule::constant;
  cfg.optim.warmup_steps = 0;
  cfg.train.steps = 1;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
}

Config lm_config() {
  Config cfg;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 4;
  cfg.model.n_kv_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 19;  // not divisible by 2, 3 or 4 ranks
  cfg.data.vocab_size = 12;
  cfg.parallel.layout = config::Layout::zigzag;
  cfg.parallel.algo = ParallelAlgo::ring;
  return cfg;
}

Config seq2seq_config() {  // variable-length examples: every rank pads its share differently
  Config cfg;
  cfg.model.type = config::ModelType::seq2seq;
  cfg.model.d_model = 8;
  cfg.model.n_heads = 2;
  cfg.model.n_layers = 1;
  cfg.attention.mechanism = "soft";
  cfg.data.vocab_size = 8;
  cfg.seq2seq.min_len = 2;
  cfg.seq2seq.max_len = 6;
  return cfg;
}

Config han_config() { return test::tiny_han_config(1, 1); }  // documents of 1-6 sentences

using ModelConfig = Config (*)();

// `model`'s config for a dp x cp grid with `accum` micro-batches per step and a global batch of 24
// (divisible by dp x accum for every grid here).
Config step_config(ModelConfig model, int dp, int cp, int64_t accum = 1) {
  set_log_level("warn");  // every rank trains; keep the test output to results
  Config cfg = model();
  cfg.data.batch_size = 24;
  cfg.parallel.dp = dp;
  cfg.parallel.cp = cp;
  cfg.train.accum_steps = accum;
  plain_sgd_step(cfg);
  validate(cfg);
  return cfg;
}

struct NamedValues {
  std::string name;
  std::vector<double> values;
};

std::vector<NamedValues> parameter_values(nn::Module& model) {
  std::vector<NamedValues> out;
  for (const NamedTensor& p : model.named_parameters())
    out.push_back({p.name, p.tensor.to(DType::f64).to_vector<double>()});
  return out;
}

// Minus the update of one SGD step of size 1: the gradient the optimizer applied, per parameter.
std::vector<NamedValues> applied_gradient(const Config& cfg, Communicator* comm, const GridShape& shape) {
  std::unique_ptr<ProcessGrid> grid;
  train::ParallelContext parallel;
  if (comm) {
    grid = std::make_unique<ProcessGrid>(*comm, shape);
    parallel.world = comm;
    parallel.grid = grid.get();
    parallel.layout = kernels::parse_layout_kind(std::string(config::to_string(cfg.parallel.layout)).c_str());
  }
  const auto task = train::make_task(cfg, parallel);
  std::vector<NamedValues> gradient = parameter_values(task->model());
  train::Trainer(cfg, *task, nullptr, comm ? comm->rank() : 0, comm).run();
  const std::vector<NamedValues> after = parameter_values(task->model());
  for (size_t i = 0; i < gradient.size(); ++i)
    for (size_t j = 0; j < gradient[i].values.size(); ++j) gradient[i].values[j] -= after[i].values[j];
  return gradient;
}

// Every parameter's applied gradient within 1e-4 of the largest reference entry of that parameter
// (fp32 rounding of p - (p - g) and of sums in another order); a NaN anywhere fails. A constant
// factor c on the gradient shows as a difference of |c - 1| times that largest entry.
void expect_same_gradient(const std::vector<NamedValues>& got, const std::vector<NamedValues>& want,
                          const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double largest_overall = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].values.size(), want[i].values.size()) << what << ": " << want[i].name;
    double largest = 0;
    for (const double g : want[i].values) largest = std::max(largest, std::abs(g));
    largest_overall = std::max(largest_overall, largest);
    const double tolerance = 1e-4 * largest + 1e-7;
    for (size_t j = 0; j < want[i].values.size(); ++j) {
      const double diff = std::abs(got[i].values[j] - want[i].values[j]);
      ASSERT_TRUE(diff <= tolerance) << what << ": " << want[i].name << "[" << j << "] gradient "
                                     << got[i].values[j] << ", one rank " << want[i].values[j]
                                     << " (tolerance " << tolerance << ")";
    }
  }
  // A step that moved nothing would match any reduction.
  EXPECT_GT(largest_overall, 1e-4) << what << ": the reference gradient is zero";
}

// `model` on every rank of the world as a dp x cp grid (cp = world / dp) against one rank.
void expect_grid_gradient_matches_one_rank(ModelConfig model, int dp, int64_t accum = 1) {
  auto comm = test::fresh_comm();
  const int cp = comm->size() / dp;
  const std::vector<NamedValues> distributed =
      applied_gradient(step_config(model, dp, cp, accum), comm.get(), GridShape::for_world(comm->size(), cp));
  const std::vector<NamedValues> single = applied_gradient(step_config(model, 1, 1), nullptr, {});
  expect_same_gradient(distributed, single,
                       "dp " + std::to_string(dp) + " x cp " + std::to_string(cp) + ", accum " + std::to_string(accum));
}

int world_size() { return test::world().size(); }

TEST(GradientScale, DataParallelLMMatchesOneRank) {
  expect_grid_gradient_matches_one_rank(lm_config, world_size());
}

TEST(GradientScale, ContextParallelLMMatchesOneRank) { expect_grid_gradient_matches_one_rank(lm_config, 1); }

TEST(GradientScale, DataTimesContextParallelLMMatchesOneRank) {
  if (world_size() != 4) GTEST_SKIP() << "dp 2 x cp 2 needs 4 ranks";
  expect_grid_gradient_matches_one_rank(lm_config, 2);
}

TEST(GradientScale, DataParallelSeq2SeqMatchesOneRank) {
  expect_grid_gradient_matches_one_rank(seq2seq_config, world_size());
}

TEST(GradientScale, DataParallelHanMatchesOneRank) {
  expect_grid_gradient_matches_one_rank(han_config, world_size());
}

TEST(GradientScale, ContextParallelHanMatchesOneRank) { expect_grid_gradient_matches_one_rank(han_config, 1); }

TEST(GradientScale, DataTimesContextParallelHanMatchesOneRank) {
  if (world_size() != 4) GTEST_SKIP() << "dp 2 x cp 2 needs 4 ranks";
  expect_grid_gradient_matches_one_rank(han_config, 2);
}

// train.accum_steps: k micro-batches of batch_size / k are one batch of batch_size, on one rank
// and under data parallelism; also for seq2seq, whose micro-batches score different numbers of
// target tokens (the trainer weights each by its count).
TEST(GradientScale, AccumulationMatchesOneBatch) {
  for (const ModelConfig model : {ModelConfig{lm_config}, ModelConfig{seq2seq_config}, ModelConfig{han_config}}) {
    const std::vector<NamedValues> whole = applied_gradient(step_config(model, 1, 1), nullptr, {});
    for (const int64_t accum : {2, 3})
      expect_same_gradient(applied_gradient(step_config(model, 1, 1, accum), nullptr, {}), whole,
                           "one rank, accum " + std::to_string(accum));
    expect_grid_gradient_matches_one_rank(model, world_size(), 2);
  }
}

}  // namespace
}  // namespace attnscale

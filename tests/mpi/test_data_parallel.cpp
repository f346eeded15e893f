// Data parallelism: dp ranks, each with its share of the batch, follow the same loss trajectory and
// end with the same parameters as one process with the whole batch (within fp32 tolerance).
#include <gtest/gtest.h>

#include <cmath>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "distributed/data_parallel/gradient_reducer.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

Config tiny_lm_config(int dp) {
  set_log_level("warn");  // every rank trains; keep the test output to results
  Config cfg;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 17;
  cfg.data.vocab_size = 12;
  cfg.data.batch_size = 12;  // divisible by 1, 2, 3, 4 ranks
  cfg.parallel.dp = dp;
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 4;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  validate(cfg);
  return cfg;
}

TEST(DataParallel, GradientReducerSumsAndTreatsMissingGradientsAsZero) {
  auto comm = test::fresh_comm();
  const int p = comm->size(), r = comm->rank();
  Tensor a = Tensor::full({3}, 1.0).set_requires_grad();
  Tensor b = Tensor::full({2, 2}, 1.0, DType::f64).set_requires_grad();
  a.set_grad(Tensor::full({3}, static_cast<double>(r + 1)));
  if (r % 2 == 0) b.set_grad(Tensor::full({2, 2}, 2.0, DType::f64));  // odd ranks have none
  GradientReducer reducer(std::vector<NamedTensor>{{"a", a}, {"b", b}}, *comm, 8);
  EXPECT_EQ(reducer.bucket_count(), 2u);  // one per dtype
  reducer.reduce();
  for (float v : a.grad().to_vector<float>()) EXPECT_FLOAT_EQ(v, static_cast<float>(p * (p + 1) / 2));
  for (double v : b.grad().to_vector<double>()) EXPECT_DOUBLE_EQ(v, 2.0 * ((p + 1) / 2));
}

TEST(DataParallel, MatchesOneRankWithTheWholeBatch) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const Config cfg = tiny_lm_config(p);
  const ProcessGrid grid(*comm, GridShape::for_world(p, 1));
  train::ParallelContext parallel;
  parallel.world = comm.get();
  parallel.grid = &grid;
  train::LMTask task(cfg, parallel);
  const train::TrainSummary distributed = train::Trainer(cfg, task, nullptr, comm->rank(), comm.get()).run();

  const Config single_cfg = tiny_lm_config(1);
  train::LMTask single_task(single_cfg);
  const train::TrainSummary single = train::Trainer(single_cfg, single_task, nullptr, 0).run();

  ASSERT_EQ(distributed.losses.size(), single.losses.size());
  for (size_t i = 0; i < single.losses.size(); ++i)
    EXPECT_NEAR(distributed.losses[i], single.losses[i], 1e-5 * single.losses[i]) << "step " << i + 1;
  const auto pd = task.model().named_parameters(), ps = single_task.model().named_parameters();
  for (size_t i = 0; i < pd.size(); ++i) {
    const auto vd = pd[i].tensor.to_vector<float>(), vs = ps[i].tensor.to_vector<float>();
    for (size_t j = 0; j < vd.size(); ++j) ASSERT_NEAR(vd[j], vs[j], 1e-5) << pd[i].name << "[" << j << "]";
  }
}

}  // namespace
}  // namespace attnscale

// Data and context parallelism on device tensors under 2, 3 and 4 ranks: the bucketed gradient
// all-reduce over the device communicator, and a few TransformerLM training steps with dp = ranks,
// cp = ranks (ring, zigzag) and, at 4 ranks, dp 2 x cp 2 on the device, which follow the same run
// on the CPU (losses and final parameters).
#include <gtest/gtest.h>

#include <vector>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "distributed/data_parallel/gradient_reducer.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi_gpu/device_test_env.h"

namespace attnscale {
namespace {

TEST(DeviceDataParallel, GradientReducerSumsDeviceGradients) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  Communicator& comm = *choice.comm;
  const int p = comm.size(), r = comm.rank();
  Tensor a = Tensor::full({5}, 1.0).to(device).set_requires_grad();
  Tensor b = Tensor::full({2, 3}, 1.0, DType::f64).to(device).set_requires_grad();
  a.set_grad(Tensor::full({5}, static_cast<double>(r + 1)).to(device));
  if (r % 2 == 0) b.set_grad(Tensor::full({2, 3}, 2.0, DType::f64).to(device));  // odd ranks have none
  GradientReducer reducer(std::vector<NamedTensor>{{"a", a}, {"b", b}}, comm, 8);
  reducer.reduce();
  EXPECT_EQ(a.grad().device(), device);
  EXPECT_EQ(b.grad().device(), device);
  for (float v : a.grad().to_vector<float>()) EXPECT_FLOAT_EQ(v, static_cast<float>(p * (p + 1) / 2));
  for (double v : b.grad().to_vector<double>()) EXPECT_DOUBLE_EQ(v, 2.0 * ((p + 1) / 2));
}

Config tiny_lm(int ranks, int cp, config::RunDevice device) {
  set_log_level("warn");
  Config cfg;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 4;
  cfg.model.n_kv_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.vocab_size = 12;
  cfg.data.batch_size = 12;  // divisible by 1, 2, 3, 4 ranks
  cfg.data.seq_len = 11;  // not divisible by 2, 3 or 4
  cfg.parallel.cp = cp;
  cfg.parallel.dp = ranks / cp;
  cfg.parallel.algo = ParallelAlgo::ring;
  cfg.parallel.layout = config::Layout::zigzag;
  cfg.run.device = device;
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 2;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  validate(cfg);
  return cfg;
}

struct Run {
  train::TrainSummary summary;
  std::vector<std::vector<float>> params;
};

// Trains `cfg` on every rank of `comm` (the device communicator on the GPU, MPI on the CPU).
Run train_on(const Config& cfg, Communicator& comm, Device device) {
  const ProcessGrid grid(comm, GridShape::for_world(comm.size(), static_cast<int>(cfg.parallel.cp)));
  train::ParallelContext parallel;
  parallel.world = &comm;
  parallel.grid = &grid;
  parallel.layout = kernels::LayoutKind::zigzag;
  parallel.device = device;
  train::LMTask task(cfg, parallel);
  Run run{train::Trainer(cfg, task, nullptr, comm.rank(), &grid.world()).run(), {}};
  for (const NamedTensor& p : task.model().named_parameters()) {
    EXPECT_EQ(p.tensor.device(), device) << p.name;
    run.params.push_back(p.tensor.to_vector<float>());
  }
  return run;
}

void expect_device_follows_cpu(int cp) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  const int ranks = choice.comm->size();
  SCOPED_TRACE(fmt::format("{} ranks: dp {} x cp {}", ranks, ranks / cp, cp));
  const Run on_gpu = train_on(tiny_lm(ranks, cp, config::RunDevice::cuda), *choice.comm, device);
  auto host = test::fresh_comm("cpu twin");
  const Run on_cpu = train_on(tiny_lm(ranks, cp, config::RunDevice::cpu), *host, kCpu);
  ASSERT_EQ(on_gpu.summary.losses.size(), on_cpu.summary.losses.size());
  for (size_t i = 0; i < on_cpu.summary.losses.size(); ++i) {
    ASSERT_TRUE(std::isfinite(on_gpu.summary.losses[i])) << "step " << i + 1;
    EXPECT_NEAR(on_gpu.summary.losses[i], on_cpu.summary.losses[i], 1e-5 * on_cpu.summary.losses[i])
        << "step " << i + 1;
  }
  ASSERT_EQ(on_gpu.params.size(), on_cpu.params.size());
  for (size_t i = 0; i < on_cpu.params.size(); ++i)
    for (size_t j = 0; j < on_cpu.params[i].size(); ++j)
      ASSERT_NEAR(on_gpu.params[i][j], on_cpu.params[i][j], 5e-5) << "parameter " << i << "[" << j << "]";
}

TEST(DeviceTraining, DataParallelFollowsTheCpuRun) { expect_device_follows_cpu(1); }

TEST(DeviceTraining, ContextParallelRingFollowsTheCpuRun) { expect_device_follows_cpu(test::world().size()); }

TEST(DeviceTraining, DataTimesContextParallelFollowsTheCpuRun) {
  if (test::world().size() != 4) GTEST_SKIP() << "dp 2 x cp 2 needs 4 ranks";
  expect_device_follows_cpu(2);
}

}  // namespace
}  // namespace attnscale

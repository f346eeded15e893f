// attnscale train CONFIG [section.key=value ...]
//
// Order matters for clean failures under mpirun: the config is read and checked on every rank
// before MPI starts (every rank reaches the same verdict and exits 2 on its own), the world-size
// rule right after MPI starts and before any collective; from then on run_job decides how a
// failure ends the job (all ranks, with the failing rank's message).
#include <chrono>
#include <span>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/job.h"
#include "base/logging.h"
#include "base/threads.h"
#include "distributed/comm/process_grid.h"
#include "distributed/context_parallel/overlap_report.h"
#include "kernels/isa.h"
#include "framework/config/config.h"
#include "framework/io/run_dir.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"

namespace attnscale::app {
namespace {

int train_job(const Config& cfg, const MpiEnvironment& mpi) {
  RankSetup rank(cfg, mpi);
  MpiCommunicator& world = rank.world;
  const ProcessGrid& grid = rank.grid;

  // Every rank names the run directory from rank 0's clock.
  int64_t start_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  world.broadcast(std::span<int64_t>(&start_s, 1), 0);
  const RunDir run_dir =
      prepare_run_dir(cfg, mpi.world_rank(), std::chrono::system_clock::time_point(std::chrono::seconds(start_s)));
  LOG_INFO("run directory {}", run_dir.root.string());
  LOG_INFO("{} rank(s): dp {} x cp {}, {} thread(s) per rank, {} kernels", mpi.world_size(), grid.shape().dp,
           grid.shape().cp, thread_count(), kernels::isa_name(kernels::active_isa()));

  const auto task = train::make_task(cfg, rank.parallel);
  // grid.world(): on a GPU the gradient all-reduce moves device buffers.
  train::Trainer trainer(cfg, *task, &run_dir, mpi.world_rank(), &grid.world());
  const train::TrainSummary s = trainer.run();
  LOG_INFO("done: {} steps, loss {:.4f} -> {:.4f}, eval loss {:.4f}, eval accuracy {:.4f} (chance {:.4f}), {:.0f} tok/s",
           s.steps, s.first_loss, s.last_loss, s.final_eval.loss, s.final_eval.accuracy, task->chance_accuracy(),
           s.tokens_per_s);
  if (grid.shape().cp > 1 && cfg.parallel.algo != ParallelAlgo::ulysses)
    LOG_INFO("context parallel ({}, {} layout): {}", config::to_string(cfg.parallel.algo),
             config::to_string(cfg.parallel.layout), measure_overlap(grid.cp()).str());
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train a model from a YAML config");
  auto args = add_config_arguments(*cmd);
  cmd->callback([args] { run_config_job(*args, train_job); });
}

}  // namespace attnscale::app

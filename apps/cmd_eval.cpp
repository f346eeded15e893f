// attnscale eval CONFIG [section.key=value ...]
//
// Evaluates a trained model: builds the model and data the config describes, loads the parameters
// of the checkpoint train.resume names (a checkpoint directory, or auto = the newest valid one in
// checkpoint.dir / run.dir), and prints the held-out loss and accuracy over train.eval_batches
// batches. Writes nothing. Runs under mpirun with the same parallel.dp / cp as training or any other.
#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/job.h"
#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/config/config.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"

namespace attnscale::app {
namespace {

int eval_job(const Config& cfg, const MpiEnvironment& mpi) {
  require_checkpoint(cfg, "eval");
  RankSetup rank(cfg, mpi);
  const auto task = train::make_task(cfg, rank.parallel);
  const LoadedCheckpoint loaded = load_checkpoint_into(cfg, task->model(), "eval");

  train::Trainer trainer(cfg, *task, nullptr, mpi.world_rank(), &rank.world);
  const train::EvalResult r = trainer.evaluate();
  LOG_INFO("eval of {} (step {}): loss {:.4f}, accuracy {:.4f} (chance {:.4f}) over {} batch(es)",
           loaded.dir.string(), loaded.step, r.loss, r.accuracy, task->chance_accuracy(),
           cfg.train.eval_batches);
  if (mpi.world_rank() == 0) fmt::print("{{\"step\": {}, \"eval_loss\": {}, \"eval_accuracy\": {}}}\n",
                                        loaded.step, r.loss, r.accuracy);
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint (train.resume) on held-out batches");
  auto args = add_config_arguments(*cmd);
  cmd->callback([args] { run_config_job(*args, eval_job); });
}

}  // namespace attnscale::app

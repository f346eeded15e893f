// attnscale eval CONFIG [section.key=value ...]
//
// Evaluates a trained model: builds the model and data the config describes, loads the parameters
// of the checkpoint train.resume names (a checkpoint directory, or auto = the newest valid one in
// checkpoint.dir / run.dir), and prints the held-out loss and accuracy over train.eval_batches
// batches. Writes nothing. Runs under mpirun with the same parallel.dp / cp as training or any other.
#include <chrono>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/job.h"
#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/config/config.h"
#include "framework/checkpoint/config.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/select.h"
#include "framework/io/run_dir.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"

namespace attnscale::app {
namespace {

int eval_job(const Config& cfg, const MpiEnvironment& mpi) {
  if (cfg.train.resume == "none")
    throw ConfigError("[config] train.resume: attnscale eval needs a checkpoint: a checkpoint directory, or auto "
                      "(with run.dir or checkpoint.dir set)");
  RankSetup rank(cfg, mpi);
  const auto task = train::make_task(cfg, rank.parallel);

  const RunDir run_dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  std::vector<std::string> skipped;
  const auto reader = checkpoint::select_checkpoint(cfg.train.resume, run_dir.checkpoint_dir, skipped);
  for (const std::string& reason : skipped) LOG_WARN("[eval] skipped an invalid checkpoint: {}", reason);
  if (!reader)
    throw CheckpointError(fmt::format("[eval] no valid checkpoint in {}", run_dir.checkpoint_dir.string()));
  for (const std::string& warning : checkpoint::check_resumable(reader->manifest().config_yaml, cfg,
                                                                reader->dir() / checkpoint::kManifestFile))
    LOG_WARN("[eval] config differs from the checkpoint's: {}", warning);
  const auto model_file = reader->dir() / checkpoint::kModelFile;
  checkpoint::load_named_tensors(task->model().named_parameters(), reader->read_group(checkpoint::kParamsGroup),
                                 "parameter", model_file);
  checkpoint::load_named_tensors(task->model().named_buffers(), reader->read_group(checkpoint::kBuffersGroup),
                                 "buffer", model_file);

  train::Trainer trainer(cfg, *task, nullptr, mpi.world_rank(), &rank.world);
  const train::EvalResult r = trainer.evaluate();
  LOG_INFO("eval of {} (step {}): loss {:.4f}, accuracy {:.4f} (chance {:.4f}) over {} batch(es)",
           reader->dir().string(), reader->manifest().step, r.loss, r.accuracy, task->chance_accuracy(),
           cfg.train.eval_batches);
  if (mpi.world_rank() == 0) fmt::print("{{\"step\": {}, \"eval_loss\": {}, \"eval_accuracy\": {}}}\n",
                                        reader->manifest().step, r.loss, r.accuracy);
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint (train.resume) on held-out batches");
  auto args = add_config_arguments(*cmd);
  cmd->callback([args] { run_config_job(*args, eval_job); });
}

}  // namespace attnscale::app

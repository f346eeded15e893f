// attnscale eval CONFIG [section.key=value ...]
//
// Evaluates a trained model: builds the model and data the config describes, loads the parameters
// of the checkpoint train.resume names (a checkpoint directory, or auto = the newest valid one in
// checkpoint.dir / run.dir), and prints the held-out loss and accuracy over train.eval_batches
// batches. For model.type = seq2seq and encoder_decoder it also decodes those batches (greedy, or
// beam search of eval.beam_size) and prints corpus BLEU (sacreBLEU's: framework/eval/bleu.h), writing
// the hypotheses to eval.hypotheses when set. Writes nothing else. Runs under mpirun with the same
// parallel.dp / cp as training or any other; the decoded sentences and BLEU do not depend on it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/job.h"
#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/config/config.h"
#include "framework/train/make_task.h"
#include "framework/train/trainer.h"
#include "framework/train/translation_eval.h"

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
  nlohmann::ordered_json json{{"step", loaded.step}, {"eval_loss", r.loss}, {"eval_accuracy", r.accuracy}};
  if (train::DecodingTask* decoding = task->decoding()) {
    const models::BeamOptions options = train::beam_options(cfg, *decoding);
    rank.world.set_step("eval decoding");
    const train::TranslationEval t = train::evaluate_translation(*decoding, rank.parallel, decoding->decoding_batches(cfg.train.eval_batches), options);
    LOG_INFO("{} ({}, at most {} tokens): {} sentences, {} ended with eos, mean log-probability {:.4f}",
             t.bleu.summary(), options.beam_size == 1 ? std::string("greedy") : fmt::format("beam {}", options.beam_size),
             options.max_len, t.sentences, t.ended, t.sentences ? t.log_prob / static_cast<double>(t.sentences) : 0.0);
    json["bleu"] = t.bleu.score;
    json["bleu_summary"] = t.bleu.summary();
    json["beam_size"] = options.beam_size;
    json["max_len"] = options.max_len;
    json["sentences"] = t.sentences;
    if (!cfg.eval.hypotheses.empty() && mpi.world_rank() == 0) {
      train::write_translations(t, cfg.eval.hypotheses);
      LOG_INFO("wrote {} hypotheses to {} (references in .ref, sources in .src beside it)", t.sentences,
               cfg.eval.hypotheses);
      json["hypotheses"] = cfg.eval.hypotheses;
    }
  }
  if (mpi.world_rank() == 0) fmt::print("{}\n", json.dump());
  return 0;
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint (train.resume) on held-out batches");
  auto args = add_config_arguments(*cmd);
  cmd->callback([args] { run_config_job(*args, eval_job); });
}

}  // namespace attnscale::app

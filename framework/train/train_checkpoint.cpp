#include "framework/train/train_checkpoint.h"

#include <fmt/format.h>

#include "base/logging.h"
#include "framework/checkpoint/config.h"
#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reshard.h"
#include "framework/checkpoint/select.h"
#include "framework/io/durable_fs.h"

namespace attnscale::train {
namespace {

namespace fs = std::filesystem;
using namespace attnscale::checkpoint;

std::vector<GeneratorState> generator_states(TrainTask& task) {
  std::vector<GeneratorState> states;
  for (const NamedGenerator& g : task.generators())
    states.push_back({g.name, g.generator->seed(), g.generator->offset()});
  return states;
}

void restore_generators(TrainTask& task, const std::vector<GeneratorState>& states) {
  for (const NamedGenerator& g : task.generators())
    for (const GeneratorState& s : states)
      if (s.name == g.name) g.generator->set_state(s.seed, s.offset);
}

std::unique_ptr<CheckpointDirLock> lock_on_rank0(CheckpointGroup& group, const RunDir& run_dir) {
  std::unique_ptr<CheckpointDirLock> lock;
  group.run_agreed(
      [&] { lock = std::make_unique<CheckpointDirLock>(run_dir.checkpoint_dir, this_process(run_dir.root)); },
      /*rank0_only=*/true);
  return lock;
}

}  // namespace

TrainCheckpoints::TrainCheckpoints(const Config& cfg, const RunDir& run_dir, Communicator* world)
    : cfg_(cfg),
      run_dir_(run_dir),
      grid_(GridShape::for_world(world ? world->size() : 1, static_cast<int>(cfg.parallel.cp),
                                 static_cast<int>(cfg.parallel.ulysses))),
      group_(world),
      lock_(lock_on_rank0(group_, run_dir)),
      writer_(WriterOptions{run_dir.checkpoint_dir, cfg.checkpoint.keep}, world) {
  ATTNSCALE_CHECK(cfg.parallel.dp == 0 || cfg.parallel.dp == grid_.dp, "checkpoint",
                  "parallel.dp ({}) x parallel.cp ({}) must equal the {} ranks of the run", cfg.parallel.dp, grid_.cp,
                  group_.size());
}

bool TrainCheckpoints::due(std::int64_t step) const {
  const std::int64_t every = cfg_.checkpoint.every;
  return every > 0 && (step % every == 0 || step == cfg_.train.steps);
}

std::optional<TrainPosition> TrainCheckpoints::resume(TrainTask& task, Optimizer& optimizer) {
  // Rank 0 chooses the checkpoint, verifies every hash and the config, and moves checkpoints ahead
  // of the start aside; then every rank reads what it chose.
  std::string chosen;
  group_.run_agreed(
      [&] {
        std::optional<CheckpointReader> reader;
        if (cfg_.train.resume != "none") {
          if (cfg_.train.resume == "auto" && cfg_.run.dir.empty() && cfg_.checkpoint.dir.empty())
            LOG_WARN("[checkpoint] train.resume=auto with an empty run.dir: this run has a new directory, so there "
                     "is nothing to resume; set run.dir to continue a run");
          std::vector<std::string> skipped;
          reader = select_checkpoint(cfg_.train.resume, run_dir_.checkpoint_dir, skipped);
          for (const std::string& reason : skipped) LOG_WARN("[checkpoint] skipped an invalid checkpoint: {}", reason);
          if (!reader) LOG_INFO("[checkpoint] no checkpoint in {}: starting from step 0", run_dir_.checkpoint_dir.string());
        }
        if (reader)
          for (const std::string& warning :
               check_resumable(reader->manifest().config_yaml, cfg_, reader->dir() / kManifestFile))
            LOG_WARN("[checkpoint] config changed since the checkpoint: {}", warning);
        const std::int64_t start = reader ? reader->manifest().step : 0;
        for (const fs::path& moved : set_aside_after(run_dir_.checkpoint_dir, start))
          LOG_WARN("[checkpoint] moved {} aside: it is ahead of step {}, where this run starts (another trajectory)",
                   moved.string(), start);
        if (reader) chosen = reader->dir().string();
      },
      /*rank0_only=*/true);
  chosen = group_.broadcast(chosen);
  if (chosen.empty()) return std::nullopt;

  TrainPosition position;
  int saved_ranks = 0;
  group_.run_agreed([&] {
    const CheckpointReader reader(chosen, Verify::sizes);  // rank 0 checked the hashes above
    const fs::path model_file = reader.dir() / kModelFile;
    // The optimizer's parameters: the model's own, or their float32 masters under model.dtype bf16
    // (the trainer then rounds them into the model).
    load_named_tensors(optimizer.params(), reader.read_group(kParamsGroup), "parameter", model_file);
    load_named_tensors(task.model().named_buffers(), reader.read_group(kBuffersGroup), "buffer", model_file);
    if (reader.manifest().optimizer != optimizer.name())
      throw CheckpointError(fmt::format("[checkpoint] {}: saved with optimizer {}, this run uses {}", model_file.string(),
                                        reader.manifest().optimizer, optimizer.name()));
    try {
      optimizer.load_state(reader.read_group(kOptimizerGroup));
    } catch (const CheckpointError& e) {
      throw CheckpointError(fmt::format("[checkpoint] {}: {}", model_file.string(), e.what()));
    }
    const std::vector<GeneratorState> live = generator_states(task);
    const RankState state =
        resume_rank_state(reader.read_ranks(), grid_, group_.rank(), live, reader.dir() / kRanksFile);
    restore_generators(task, state.generators);
    position = {reader.manifest().step, state.data_cursor};
    saved_ranks = reader.manifest().world_size;
    if (group_.rank() == 0 && cfg_.logging.metrics) {
      const std::string metrics = reader.metrics_text();
      if (!metrics.empty()) replace_file_durably(run_dir_.metrics_file, metrics);
    }
  });
  LOG_INFO("[checkpoint] resumed from {} at step {} (saved by {} rank(s), resumed on {})", chosen, position.step,
           saved_ranks, group_.size());
  return position;
}

void TrainCheckpoints::save(const TrainPosition& position, TrainTask& task, const Optimizer& optimizer) {
  Content content;
  content.step = position.step;
  content.parameters = optimizer.params();  // float32 masters under model.dtype bf16
  content.buffers = task.model().named_buffers();
  content.optimizer_state = optimizer.state();
  content.optimizer = optimizer.name();
  content.config_yaml = to_yaml(cfg_);
  content.grid = grid_;
  content.rank_state = {position.data_cursor, generator_states(task)};
  if (group_.rank() == 0 && cfg_.logging.metrics) content.metrics_file = run_dir_.metrics_file;
  writer_.save(content);
}

}  // namespace attnscale::train

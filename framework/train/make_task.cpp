#include "framework/train/make_task.h"

#include "framework/train/lm_task.h"
#include "framework/train/memn2n_task.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/temporal_task.h"

namespace attnscale::train {

std::unique_ptr<TrainTask> make_task(const Config& cfg, const ParallelContext& parallel) {
  switch (cfg.model.type) {
    case config::ModelType::transformer_lm:
      return std::make_unique<LMTask>(cfg, parallel);
    case config::ModelType::seq2seq:
      return std::make_unique<Seq2SeqTask>(cfg);
    case config::ModelType::memn2n:
      return std::make_unique<MemN2NTask>(cfg);
    case config::ModelType::temporal:
      return std::make_unique<TemporalTask>(cfg);
    default:
      throw ConfigError(fmt::format("[config] model.type: '{}' has no trainer yet",
                                    config::to_string(cfg.model.type)));
  }
}

}  // namespace attnscale::train

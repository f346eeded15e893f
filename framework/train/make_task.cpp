#include "framework/train/make_task.h"

#include "framework/train/captioner_task.h"
#include "framework/train/encoder_decoder_task.h"
#include "framework/train/han_task.h"
#include "framework/train/lm_task.h"
#include "framework/train/memn2n_task.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/temporal_task.h"

namespace attnscale::train {

std::unique_ptr<TrainTask> make_task(const Config& cfg, const ParallelContext& parallel) {
  switch (cfg.model.type) {
    case config::ModelType::encoder_decoder:
      return std::make_unique<EncoderDecoderTask>(cfg, parallel);
    case config::ModelType::captioner:
      return std::make_unique<CaptionerTask>(cfg, parallel);
    case config::ModelType::transformer_lm:
      return std::make_unique<LMTask>(cfg, parallel);
    case config::ModelType::seq2seq:
      return std::make_unique<Seq2SeqTask>(cfg, parallel);
    case config::ModelType::han:
      return std::make_unique<HanTask>(cfg, parallel);
    case config::ModelType::memn2n:
      return std::make_unique<MemN2NTask>(cfg, parallel);
    case config::ModelType::temporal:
      return std::make_unique<TemporalTask>(cfg, parallel);
  }
  throw ConfigError(fmt::format("[config] model.type: unknown value {}", static_cast<int>(cfg.model.type)));
}

}  // namespace attnscale::train

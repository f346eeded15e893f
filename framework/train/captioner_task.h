// The captioning decoder with the visual sentinel on synthetic feature regions (model.type =
// captioner, attention.mechanism = adaptive): teacher-forced cross-entropy over the whole caption;
// accuracy counts the visual words (object classes) only, the words that need the image; evaluation
// decodes greedily and logs the mean sentinel gate on visual and on non-visual words. Data-parallel
// ranks split every global batch (data_parallel_task.h); each rank's loss is its share of the mean
// over all ranks' caption words. It draws no random numbers, so a dp run follows the one-rank run.
#pragma once

#include <memory>

#include "framework/config/config.h"
#include "framework/data/captions.h"
#include "framework/models/captioner.h"
#include "framework/train/parallel_context.h"
#include "framework/train/task.h"

namespace attnscale::train {

// Mean sentinel gate beta over the visual and the non-visual target words of a batch.
struct GateSplit {
  double visual = 0, non_visual = 0;
};
GateSplit gate_split(const Tensor& beta, const Tensor& targets);

class CaptionerTask : public TrainTask {
 public:
  explicit CaptionerTask(const Config& cfg, ParallelContext parallel = {});

  nn::Module& model() override { return *model_; }
  BatchResult train_batch(int64_t index) override;
  BatchResult eval_batch(int64_t index) override;
  double chance_accuracy() const override { return task_.chance_accuracy(); }
  std::vector<NamedGenerator> generators() override { return {}; }  // no dropout, no sampling

 private:
  ParallelContext parallel_;
  std::unique_ptr<models::Captioner> model_;
  data::CaptionTask task_;
};

// ConfigError naming the key for options that do not fit the captioner.
models::CaptionerOptions captioner_options(const Config& cfg, const data::CaptionTask& task);
data::CaptionSpec caption_spec(const Config& cfg, std::int64_t dp_size);

}  // namespace attnscale::train

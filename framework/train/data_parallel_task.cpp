#include "framework/train/data_parallel_task.h"

#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"

namespace attnscale::train {

Tensor cross_entropy_share(const ParallelContext& parallel, const Tensor& logits, const Tensor& targets,
                           int64_t ignore_index) {
  const int64_t classes = logits.shape().back();
  const Tensor flat_targets = reshape(targets, {-1});
  int64_t local_scored = 0;
  for (const int64_t target : flat_targets.to_vector<int64_t>()) local_scored += target != ignore_index;
  const Tensor summed = cross_entropy(reshape(logits, {-1, classes}), flat_targets, ignore_index, Reduction::sum);
  return mul(summed, global_mean_factor(parallel, local_scored));
}

}  // namespace attnscale::train

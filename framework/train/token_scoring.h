// Accuracy bookkeeping shared by the tasks: counts the target positions a rule scores and how
// many of them the prediction got right.
#pragma once

#include "framework/train/task.h"

namespace attnscale::train {

// predicted and targets int64 of one shape; `scored(target)` says which positions count.
template <typename Scored>
void score_tokens(const Tensor& predicted, const Tensor& targets, Scored scored, BatchResult& result) {
  const auto p = predicted.to_vector<int64_t>(), t = targets.to_vector<int64_t>();
  for (size_t i = 0; i < t.size(); ++i) {
    if (!scored(t[i])) continue;
    ++result.scored;
    result.correct += p[i] == t[i];
  }
}

}  // namespace attnscale::train

#pragma once

#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale {

// A tensor with its hierarchical name ("layers.0.attn.q_proj.weight"): the key checkpoints,
// optimizer state and gradient reduction agree on.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

using NamedTensors = std::vector<NamedTensor>;

}  // namespace attnscale

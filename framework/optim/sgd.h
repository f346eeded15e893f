// Stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled) weight
// decay, as torch.optim.SGD:
//   d = g + weight_decay * p
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf      (only when momentum != 0)
//   p -= lr * d
// State: "sgd.step/<name>" and, when momentum != 0, "sgd.momentum/<name>".
#pragma once

#include "framework/optim/optimizer.h"

namespace attnscale {

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class Sgd final : public Optimizer {
 public:
  Sgd(std::vector<NamedTensor> params, const SgdOptions& options);
  const SgdOptions& options() const { return options_; }

 private:
  void update(size_t index, const Tensor& grad, int64_t step, std::span<Tensor> buffers) override;
  SgdOptions options_;
};

}  // namespace attnscale

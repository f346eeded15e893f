// Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW (amsgrad off), eps outside the sqrt:
//   Adam:  g += weight_decay * p          AdamW: p *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// t is the parameter's own step count. State: "adam.step/<name>", "adam.m/<name>", "adam.v/<name>"
// for both (the layout is the same; weight decay is a hyperparameter, not state).
#pragma once

#include <optional>

#include "framework/optim/optimizer.h"

namespace attnscale {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // Unset: PyTorch's defaults, 0 for Adam and 1e-2 for AdamW.
  std::optional<double> weight_decay;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<NamedTensor> params, const AdamOptions& options);
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  bool decoupled_weight_decay() const { return decoupled_; }

 protected:
  Adam(std::vector<NamedTensor> params, const AdamOptions& options, bool decoupled_weight_decay);

 private:
  void update(size_t index, const Tensor& grad, int64_t step, std::span<Tensor> buffers) override;
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter, 1711.05101).
class AdamW final : public Adam {
 public:
  AdamW(std::vector<NamedTensor> params, const AdamOptions& options);
};

}  // namespace attnscale

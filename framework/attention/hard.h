// Hard (stochastic) attention (Xu et al. 2015, 1502.03044, "hard" attention): the context is the
// encoder state at ONE source position, sampled in training from the softmax over unpadded
// positions of any score, and the most probable position at evaluation.
//   Sampling: Gumbel-max, argmax_s(log p_s + g_s) with g = -log(-log u), u ~ U(0, 1) from the
//   counter-based Generator, so a run's samples do not depend on the thread count.
//   reinforce: the context carries no gradient to the scores; auxiliary_loss adds the REINFORCE
//     surrogate -(r - b) log p(sampled) with a moving-average baseline b (Williams 1992; Xu et al.)
//     and an entropy bonus. The reward of the sample at target step t is that step's log-likelihood
//     log p(y_t) (the task's per-token reward, lower variance than the whole sequence's; it ignores
//     the sample's later effect through input feeding).
//   straight_through: the forward uses the one-hot sample; the backward uses the gradient of the
//     relaxed weights softmax((log p + g) / temperature) of the same noise (straight-through
//     Gumbel-softmax, Jang et al. 2017, 1611.01144). The entropy bonus applies here too.
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

enum class HardEstimator { reinforce, straight_through };

struct HardOptions {
  HardEstimator estimator = HardEstimator::reinforce;
  double entropy_bonus = 0.01;  // weight of the mean entropy subtracted from the loss
  double baseline_decay = 0.9;  // b <- decay b + (1 - decay) mean reward
  double temperature = 1.0;     // straight_through: temperature of the relaxed weights
};

class HardAttention : public SourceAttention {
 public:
  HardAttention(std::shared_ptr<Score> score, const HardOptions& options, DType dtype = DType::f32);

  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;

  // REINFORCE surrogate and entropy bonus over the training reads; updates the baseline (REINFORCE).
  // Its value is 0 (surrogate minus its detached self), so the reported training loss stays the task
  // loss; its gradient is that of reinforce_surrogate.
  Tensor auxiliary_loss(const std::vector<AttentionRead>& reads, const Tensor& rewards,
                        const Tensor& target_mask) override;

  const HardOptions& options() const { return options_; }
  double baseline() const { return baseline_.item(); }

 private:
  HardOptions options_;
  Tensor baseline_;          // buffer [1]: moving average of the mean reward
  Tensor baseline_updates_;  // buffer [1]: how many batches it has seen (0 = not yet initialised)
};

// Gumbel(0, 1) noise of `shape` from gen's stream (gen advances by numel).
Tensor gumbel_noise(const Shape& shape, Generator& gen, DType dtype);

// The loss whose gradient is the REINFORCE estimator with entropy bonus, averaged over scored targets:
//   sum_{b,t} mask * (-(advantages * log_probs) - entropy_bonus * entropies) / sum(mask)
// log_probs, entropies, advantages (no gradient) and mask are [B, T].
Tensor reinforce_surrogate(const Tensor& log_probs, const Tensor& entropies, const Tensor& advantages,
                           const Tensor& mask, double entropy_bonus);

}  // namespace attnscale::attention

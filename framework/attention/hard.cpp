#include "framework/attention/hard.h"

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

HardAttention::HardAttention(std::shared_ptr<Score> score, const HardOptions& options, DType dtype)
    : SourceAttention("hard", std::move(score)), options_(options) {
  ATTNSCALE_CHECK(options.entropy_bonus >= 0, "hard", "entropy_bonus must be >= 0, got {}", options.entropy_bonus);
  ATTNSCALE_CHECK(options.baseline_decay >= 0 && options.baseline_decay < 1, "hard",
                  "baseline_decay must lie in [0, 1), got {}", options.baseline_decay);
  ATTNSCALE_CHECK(options.temperature > 0, "hard", "temperature must be > 0, got {}", options.temperature);
  baseline_ = register_buffer("baseline", Tensor::zeros({1}, dtype));
  baseline_updates_ = register_buffer("baseline_updates", Tensor::zeros({1}, dtype));
}

Tensor gumbel_noise(const Shape& shape, Generator& gen, DType dtype) {
  // u >= 1e-20 keeps -log(-log u) finite; the largest u is 1 - 2^-24, so g stays below ~17.
  const Tensor u = Tensor::rand(shape, gen, dtype, 1e-20, 1.0);
  return neg(log(neg(log(u))));
}

AttentionRead HardAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator& gen) const {
  const Tensor log_p = log_softmax(mask_scores(score_->forward(query, memory.keys), memory.padding), -1);  // [B, S]
  const int64_t length = log_p.shape()[1];
  const DType dtype = memory.states.dtype();
  AttentionRead read;
  if (!training()) {
    read.weights = one_hot_rows(argmax(log_p.detach(), -1), length, dtype);
    read.context = read_out(read.weights, memory.states);
    return read;
  }
  const Tensor noise = gumbel_noise(log_p.shape(), gen, dtype);
  const Tensor sample = argmax(add(log_p.detach(), noise), -1);  // [B]: Gumbel-max
  const Tensor one_hot = one_hot_rows(sample, length, dtype);
  // Padded positions have log p = -inf and p = 0: their entropy terms are 0, not 0 * -inf.
  read.entropy = neg(sum(mul(exp(log_p), masked_fill(log_p, memory.padding, 0.0)), {-1}));
  if (options_.estimator == HardEstimator::reinforce) {
    read.weights = one_hot;
    read.log_prob = squeeze(gather(log_p, 1, unsqueeze(sample, 1)), 1);
  } else {
    const Tensor relaxed = softmax(mul(add(log_p, noise), 1.0 / options_.temperature), -1);
    read.weights = add(one_hot, sub(relaxed, relaxed.detach()));  // value one-hot, gradient relaxed
  }
  read.context = read_out(read.weights, memory.states);
  return read;
}

Tensor reinforce_surrogate(const Tensor& log_probs, const Tensor& entropies, const Tensor& advantages,
                           const Tensor& mask, double entropy_bonus) {
  const double count = sum(mask).item();
  ATTNSCALE_CHECK(count > 0, "hard", "no scored target steps in the batch");
  Tensor per_step = mul(entropies, -entropy_bonus);
  if (log_probs.defined()) per_step = sub(per_step, mul(advantages, log_probs));
  return mul(sum(mul(per_step, mask)), 1.0 / count);
}

Tensor HardAttention::auxiliary_loss(const std::vector<AttentionRead>& reads, const Tensor& rewards,
                                     const Tensor& target_mask) {
  if (reads.empty() || !reads.front().entropy.defined()) return {};  // evaluation reads
  const auto steps = static_cast<int64_t>(reads.size());
  ATTNSCALE_CHECK(target_mask.dim() == 2 && target_mask.shape()[1] == steps, "hard",
                  "target mask {} does not cover the {} decoder steps", shape_str(target_mask.shape()), steps);
  std::vector<Tensor> entropy_steps;
  for (const auto& r : reads) entropy_steps.push_back(r.entropy);
  const Tensor entropies = stack(entropy_steps, 1);
  Tensor log_probs, advantages;
  if (options_.estimator == HardEstimator::reinforce) {
    ATTNSCALE_CHECK(rewards.defined() && rewards.shape() == target_mask.shape(), "hard",
                    "REINFORCE needs a reward per target step {}, got {}", shape_str(target_mask.shape()),
                    rewards.defined() ? shape_str(rewards.shape()) : "none");
    std::vector<Tensor> log_prob_steps;
    for (const auto& r : reads) log_prob_steps.push_back(r.log_prob);
    log_probs = stack(log_prob_steps, 1);
    autograd::NoGradGuard no_grad;
    const double mean_reward = sum(mul(rewards, target_mask)).item() / sum(target_mask).item();
    // The first batch sets the baseline, so early advantages are centred rather than all negative.
    if (baseline_updates_.item() == 0) baseline_.fill_(mean_reward);
    advantages = mul(sub(rewards.detach(), baseline_), target_mask);
    const double decay = options_.baseline_decay;
    baseline_.fill_(decay * baseline_.item() + (1 - decay) * mean_reward);
    baseline_updates_.fill_(baseline_updates_.item() + 1);
  }
  const Tensor surrogate = reinforce_surrogate(log_probs, entropies, advantages, target_mask, options_.entropy_bonus);
  return sub(surrogate, surrogate.detach());
}

}  // namespace attnscale::attention

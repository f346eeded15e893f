// Attention of an RNN decoder over its encoder's states (the encoder-decoder family of Bahdanau and
// Luong): at decoder step t a query (a decoder state, [B, Dq]) reads the source memory ([B, S, Dk],
// right-padded) and gets a context vector. The mechanisms (soft.h, additive.h, global.h, local.h,
// hard.h) share this interface and its parts: a Score (scores.h), the padding mask, the softmax over
// unpadded positions and the read-out below.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "framework/attention/scores.h"

namespace attnscale::attention {

// The encoder side, prepared once per source batch.
struct SourceMemory {
  Tensor states;   // [B, S, Dk]: what is read out
  Tensor keys;     // score->prepare_keys(states)
  Tensor padding;  // [B, S] in states' dtype: 1 at padded positions, 0 elsewhere
  Tensor lengths;  // int64 [B], 1 <= lengths[b] <= S
};

// One decoder step's read.
struct AttentionRead {
  Tensor context;  // [B, Dk]
  Tensor weights;  // [B, S]: the attention distribution (one-hot for hard attention)
  // Stochastic mechanisms in training only: log-probability of the sampled position and entropy of
  // the distribution it was sampled from, [B] each; undefined otherwise.
  Tensor log_prob;
  Tensor entropy;
};

class SourceAttention : public nn::Module {
 public:
  // states [B, S, Dk], lengths int64 [B] (undefined = all S).
  SourceMemory prepare(const Tensor& states, const Tensor& lengths) const;

  // query [B, Dq]; `step` is the decoder step (0-based; local-m aligns with it); `gen` draws the
  // samples of stochastic mechanisms (it advances only when one samples).
  virtual AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step,
                                Generator& gen) const = 0;

  // A training loss the task loss does not provide (hard attention's REINFORCE surrogate and entropy
  // bonus), from the reads of every decoder step, a reward per target step [B, T] (no gradient) and
  // the target mask [B, T] (1 where a target is scored). Undefined when there is none. May update
  // running statistics (the REINFORCE baseline), so it is called once per training batch.
  virtual Tensor auxiliary_loss(const std::vector<AttentionRead>& reads, const Tensor& rewards,
                                const Tensor& target_mask);

  const std::string& name() const { return name_; }
  const Score& score() const { return *score_; }

 protected:
  SourceAttention(std::string name, std::shared_ptr<Score> score);
  std::string name_;  // the mechanism, for error messages
  std::shared_ptr<Score> score_;
};

// ---- parts shared by the mechanisms -----------------------------------------------------------
// scores [B, S] with `excluded` ([B, S], nonzero = excluded) set to -inf.
Tensor mask_scores(const Tensor& scores, const Tensor& excluded);
// Softmax over the positions that are not excluded.
Tensor masked_softmax(const Tensor& scores, const Tensor& excluded);
// The expectation sum_s weights[b, s] states[b, s, :]: weights [B, S], states [B, S, D] -> [B, D].
Tensor read_out(const Tensor& weights, const Tensor& states);
// Soft read-out: softmax of the scores over unpadded positions, and its expectation.
AttentionRead soft_read(const Tensor& scores, const SourceMemory& memory);
// [B, S] one-hot rows (states' dtype) from positions int64 [B].
Tensor one_hot_rows(const Tensor& positions, int64_t length, DType dtype);

}  // namespace attnscale::attention

// A pre-norm decoder-only Transformer language model (GPT-style): token embedding, N blocks of
// [norm -> causal self-attention -> residual, norm -> MLP -> residual], final norm, LM head
// (tied to the embedding by default). Positions are rotary, on global token positions, so a shard
// of a long sequence is processed exactly like the same tokens of the whole sequence.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "framework/attention/multi_head.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

// Builds one block's self-attention from the options every block shares. The mechanism's
// registration (framework/train/mechanisms/) supplies it, with the mechanism's own options bound.
using SelfAttentionFactory =
    std::function<std::shared_ptr<attention::SelfAttention>(const attention::MultiHeadOptions&, Generator&, DType)>;

struct TransformerLMOptions {
  TransformerLMOptions() { attention.mask.causal = true; }
  int64_t vocab_size = 32;
  int64_t n_layers = 2;
  int64_t d_ff = 0;  // 0 = 4 * attention.d_model
  double dropout = 0.0;
  std::string norm = "layernorm";
  bool tie_embeddings = true;
  // Recompute each block's activations in the backward instead of keeping them (autograd/checkpoint.h):
  // the memory of one block's activations instead of all of them, for one more forward per step.
  bool activation_checkpointing = false;
  // What every block's self-attention reads: attention.d_model is the model width; then the heads,
  // RoPE, the mask (causal by default, global positions), fused or plain, the scale (0 =
  // kernels::score_scale's 1/sqrt(head_dim)), the normaliser and, with cp > 1, the group attention
  // runs over (sequences are sharded; MultiHeadOptions).
  attention::MultiHeadOptions attention;
  // The mechanism's module for every block; empty = MultiHeadAttention.
  SelfAttentionFactory make_attention;
};

class TransformerBlock : public nn::Module {
 public:
  TransformerBlock(const TransformerLMOptions& options, Generator& gen);
  Tensor forward(const Tensor& x, const Tensor& positions, Generator& dropout_gen) const;
  const attention::SelfAttention& attention() const { return *attn_; }

 private:
  std::shared_ptr<nn::Norm> norm1_, norm2_;
  std::shared_ptr<attention::SelfAttention> attn_;
  std::shared_ptr<nn::MLP> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

class TransformerLM : public nn::Module {
 public:
  TransformerLM(const TransformerLMOptions& options, Generator& gen);

  // ids int64 [B, N]; positions int64 [N] (global). Returns logits [B, N, vocab].
  Tensor forward(const Tensor& ids, const Tensor& positions, Generator& dropout_gen) const;
  const TransformerLMOptions& options() const { return options_; }
  // The sum of the attention layers' loss terms (adaptive span's penalty); undefined when none.
  Tensor auxiliary_loss() const;
  const std::vector<std::shared_ptr<TransformerBlock>>& blocks() const { return blocks_; }

 private:
  TransformerLMOptions options_;
  std::shared_ptr<nn::Embedding> embed_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  std::shared_ptr<nn::Norm> final_norm_;
  std::shared_ptr<nn::Linear> lm_head_;  // null when tied
};

}  // namespace attnscale::models

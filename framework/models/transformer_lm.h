// A pre-norm decoder-only Transformer language model (GPT-style): token embedding, N blocks of
// [norm -> causal self-attention -> residual, norm -> MLP -> residual], final norm, LM head
// (tied to the embedding by default). Positions are rotary, on global token positions, so a shard
// of a long sequence is processed exactly like the same tokens of the whole sequence.
// Decoding: start_decoding() makes one cache per block (its attention's DecodeCache: keys and values
// per key/value head, or MLA's latent and rope key) and forward_cached() runs new tokens against it,
// giving the logits forward() gives at those positions (lm_decoding.h generates with it).
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
  TransformerBlock(const TransformerLMOptions& options, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x, const Tensor& positions, Generator& dropout_gen) const;
  Tensor forward_cached(const Tensor& x, const Tensor& positions, attention::DecodeCache& cache) const;
  const attention::SelfAttention& attention() const { return *attn_; }

 private:
  // x + attention output, then the MLP's residual step.
  Tensor finish(const Tensor& x, const Tensor& attended, Generator& dropout_gen) const;

  std::shared_ptr<nn::Norm> norm1_, norm2_;
  std::shared_ptr<attention::SelfAttention> attn_;
  std::shared_ptr<nn::MLP> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

// The caches of every block for a batch of sequences being decoded.
struct LMDecodeState {
  std::vector<std::unique_ptr<attention::DecodeCache>> layers;
  int64_t length() const { return layers.front()->length(); }  // tokens decoded so far
  int64_t elements_per_token() const;                            // summed over layers
};

class TransformerLM : public nn::Module {
 public:
  TransformerLM(const TransformerLMOptions& options, Generator& gen, DType dtype = DType::f32);

  // ids int64 [B, N]; positions int64 [N] (global). Returns logits [B, N, vocab].
  Tensor forward(const Tensor& ids, const Tensor& positions, Generator& dropout_gen) const;
  // Empty caches; UsageError for a mechanism without cached decoding (adaptive span).
  LMDecodeState start_decoding(const attention::DecodeOptions& options = {}) const;
  // ids int64 [B, N] at positions state.length() .. + N - 1 (a prompt, then one token at a time);
  // appends to the caches and returns their logits [B, N, vocab]. Evaluation mode (no dropout).
  Tensor forward_cached(const Tensor& ids, LMDecodeState& state) const;
  const TransformerLMOptions& options() const { return options_; }
  // The sum of the attention layers' loss terms (adaptive span's penalty); undefined when none.
  Tensor auxiliary_loss() const;
  const std::vector<std::shared_ptr<TransformerBlock>>& blocks() const { return blocks_; }

 private:
  void check_ids(const Tensor& ids) const;
  Tensor logits(const Tensor& h) const;  // final norm and LM head: [B, N, d_model] -> [B, N, vocab]

  TransformerLMOptions options_;
  std::shared_ptr<nn::Embedding> embed_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;
  std::shared_ptr<nn::Norm> final_norm_;
  std::shared_ptr<nn::Linear> lm_head_;  // null when tied
};

}  // namespace attnscale::models

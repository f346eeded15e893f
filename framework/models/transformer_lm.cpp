#include "framework/models/transformer_lm.h"

#include <fmt/format.h>

#include "framework/core/autograd/checkpoint.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

TransformerBlock::TransformerBlock(const TransformerLMOptions& o, Generator& gen) {
  const int64_t d_model = o.attention.d_model;
  norm1_ = register_module("norm1", nn::make_norm(o.norm, d_model));
  attn_ = register_module("attn", o.make_attention ? o.make_attention(o.attention, gen, DType::f32)
                                                   : std::make_shared<attention::MultiHeadAttention>(o.attention, gen));
  norm2_ = register_module("norm2", nn::make_norm(o.norm, d_model));
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(d_model, o.d_ff > 0 ? o.d_ff : 4 * d_model,
                                                          nn::Activation::gelu, gen));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& positions, Generator& dropout_gen) const {
  const Tensor h = add(x, dropout_->forward(attn_->forward(norm1_->forward(x), positions), dropout_gen));
  return add(h, dropout_->forward(mlp_->forward(norm2_->forward(h)), dropout_gen));
}

TransformerLM::TransformerLM(const TransformerLMOptions& options, Generator& gen) : options_(options) {
  ATTNSCALE_CHECK(options.vocab_size > 0 && options.n_layers > 0, "transformer_lm",
                  "vocab_size and n_layers must be positive");
  const int64_t d_model = options.attention.d_model;
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(options.vocab_size, d_model, gen, 0.02));
  for (int64_t i = 0; i < options.n_layers; ++i)
    blocks_.push_back(register_module(fmt::format("blocks.{}", i), std::make_shared<TransformerBlock>(options, gen)));
  ATTNSCALE_CHECK(!options.activation_checkpointing || !auxiliary_loss().defined(), "transformer_lm",
                  "activation checkpointing cannot recompute an attention layer with its own loss term (adaptive "
                  "span's penalty): the term is computed inside the block, outside the block's output");
  final_norm_ = register_module("final_norm", nn::make_norm(options.norm, d_model));
  if (!options.tie_embeddings)
    lm_head_ = register_module("lm_head", std::make_shared<nn::Linear>(d_model, options.vocab_size, false, gen));
}

Tensor TransformerLM::auxiliary_loss() const {
  Tensor total;
  for (const auto& block : blocks_) {
    const Tensor term = block->attention().auxiliary_loss();
    if (term.defined()) total = total.defined() ? add(total, term) : term;
  }
  return total;
}

Tensor TransformerLM::forward(const Tensor& ids, const Tensor& positions, Generator& dropout_gen) const {
  ATTNSCALE_CHECK(ids.dim() == 2 && ids.dtype() == DType::i64, "transformer_lm", "ids must be int64 [B, N], got {} {}",
                  dtype_name(ids.dtype()), shape_str(ids.shape()));
  Tensor h = embed_->forward(ids);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const std::shared_ptr<TransformerBlock> block = blocks_[i];
    if (!options_.activation_checkpointing) {
      h = block->forward(h, positions, dropout_gen);
      continue;
    }
    // The recompute replays the dropout stream from where this block's forward found it.
    auto start = std::make_shared<const Generator>(dropout_gen);
    auto end = std::make_shared<Generator>(dropout_gen);
    h = autograd::checkpoint(
        fmt::format("blocks.{}", i),
        [block, positions, start, end](const Tensor& x) {
          Generator gen = *start;
          Tensor y = block->forward(x, positions, gen);
          *end = gen;
          return y;
        },
        h, block->parameters());
    dropout_gen = *end;
  }
  h = final_norm_->forward(h);
  if (lm_head_) return lm_head_->forward(h);
  const int64_t b = ids.shape()[0], n = ids.shape()[1];
  const Tensor logits = matmul(reshape(h, {b * n, options_.attention.d_model}), transpose(embed_->weight(), 0, 1));
  return reshape(logits, {b, n, options_.vocab_size});
}

}  // namespace attnscale::models

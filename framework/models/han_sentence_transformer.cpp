#include "framework/models/han_sentence_transformer.h"

#include <cmath>

#include <fmt/format.h>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "framework/core/ops/attention.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

SentenceEncoderLayer::SentenceEncoderLayer(int64_t dim, int64_t heads, Generator& gen, DType dtype)
    : dim_(dim), heads_(heads) {
  norm1_ = register_module("norm1", std::make_shared<nn::LayerNorm>(dim, 1e-5, dtype));
  q_proj_ = register_module("q_proj", std::make_shared<nn::Linear>(dim, dim, false, gen, dtype));
  k_proj_ = register_module("k_proj", std::make_shared<nn::Linear>(dim, dim, false, gen, dtype));
  v_proj_ = register_module("v_proj", std::make_shared<nn::Linear>(dim, dim, false, gen, dtype));
  o_proj_ = register_module("o_proj", std::make_shared<nn::Linear>(dim, dim, false, gen, dtype));
  norm2_ = register_module("norm2", std::make_shared<nn::LayerNorm>(dim, 1e-5, dtype));
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(dim, 4 * dim, nn::Activation::gelu, gen, dtype));
}

Tensor SentenceEncoderLayer::self_attention(const Tensor& x, const std::vector<int32_t>& key_valid,
                                            Communicator* sentence_group) const {
  const int64_t batch = x.shape()[0], slots = x.shape()[1], head_dim = dim_ / heads_;
  const auto heads = [&](const Tensor& t) { return transpose(reshape(t, {batch, slots, heads_, head_dim}), 1, 2); };
  const Tensor q = heads(q_proj_->forward(x)), k = heads(k_proj_->forward(x)), v = heads(v_proj_->forward(x));
  AttentionSpec spec;  // no positional mask: every sentence of a document meets every other
  spec.scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  spec.k_valid = key_valid;
  Tensor out;  // [B, H, S, head_dim]
  if (sentence_group == nullptr || sentence_group->size() == 1) {
    out = fused_attention(q, k, v, spec);
  } else {
    // Slots, not sentence positions (han_sentence_transformer.h): rank c holds [c S, (c + 1) S).
    const int ranks = sentence_group->size();
    const ContextParallelGroup group{sentence_group, nullptr, nullptr, Algo::ring,
                                     kernels::Layout(kernels::LayoutKind::contiguous, slots * ranks, ranks)};
    out = context_parallel_attention(q, k, v, spec, group);
  }
  return o_proj_->forward(reshape(transpose(out, 1, 2), {batch, slots, dim_}));
}

Tensor SentenceEncoderLayer::forward(const Tensor& x, const std::vector<int32_t>& key_valid,
                                     Communicator* sentence_group) const {
  const Tensor h = add(x, self_attention(norm1_->forward(x), key_valid, sentence_group));
  return add(h, mlp_->forward(norm2_->forward(h)));
}

SentenceTransformer::SentenceTransformer(const SentenceTransformerOptions& o, Generator& gen, DType dtype)
    : options_(o) {
  ATTNSCALE_CHECK(o.dim > 0 && o.heads > 0 && o.dim % o.heads == 0, "han_sentence_transformer",
                  "sentence vector size ({}) must be divisible by heads ({})", o.dim, o.heads);
  ATTNSCALE_CHECK(o.layers > 0, "han_sentence_transformer", "layers must be positive, got {}", o.layers);
  for (int64_t i = 0; i < o.layers; ++i)
    layers_.push_back(register_module(fmt::format("layers.{}", i),
                                      std::make_shared<SentenceEncoderLayer>(o.dim, o.heads, gen, dtype)));
  final_norm_ = register_module("final_norm", std::make_shared<nn::LayerNorm>(o.dim, 1e-5, dtype));
}

Tensor SentenceTransformer::forward(const Tensor& x, const Tensor& sentence_mask, Communicator* sentence_group) const {
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.dim, "han_sentence_transformer",
                  "sentence vectors must be [B, S, {}], got {}", options_.dim, shape_str(x.shape()));
  ATTNSCALE_CHECK(sentence_mask.dim() == 2 && sentence_mask.shape()[0] == x.shape()[0] &&
                      sentence_mask.shape()[1] == x.shape()[1],
                  "han_sentence_transformer", "sentence_mask must be [B, S] = [{}, {}], got {}", x.shape()[0],
                  x.shape()[1], shape_str(sentence_mask.shape()));
  // Key padding per slot, batch-major as the attention kernels read it.
  std::vector<int32_t> key_valid;
  key_valid.reserve(static_cast<size_t>(sentence_mask.numel()));
  for (const double m : sentence_mask.to(DType::f64).to_vector<double>()) key_valid.push_back(m != 0.0 ? 1 : 0);
  Tensor h = x;
  for (const auto& layer : layers_) h = layer->forward(h, key_valid, sentence_group);
  return final_norm_->forward(h);
}

}  // namespace attnscale::models

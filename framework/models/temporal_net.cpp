#include "framework/models/temporal_net.h"

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {
namespace {

constexpr const char* kModel = "temporal_net";

}  // namespace

TemporalAttentionNet::TemporalAttentionNet(const TemporalNetOptions& options, Generator& gen, DType dtype)
    : options_(options) {
  TemporalNetOptions& o = options_;
  if (o.embed_dim == 0) o.embed_dim = o.hidden_size;
  if (o.attn_dim == 0) o.attn_dim = o.hidden_size;
  ATTNSCALE_CHECK(o.feature_dim >= 1 && o.hidden_size >= 1 && o.embed_dim >= 1 && o.attn_dim >= 1, kModel,
                  "options feature_dim ({}), hidden_size ({}), embed_dim ({}) and attn_dim ({}) must be positive",
                  o.feature_dim, o.hidden_size, o.embed_dim, o.attn_dim);
  ATTNSCALE_CHECK(o.bos_id >= 0 && o.bos_id < o.vocab_size, kModel, "option vocab_size ({}) must hold bos_id ({})",
                  o.vocab_size, o.bos_id);
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(o.vocab_size, o.embed_dim, gen, 1.0, dtype));
  init_ = register_module("init", std::make_shared<nn::Linear>(o.feature_dim, o.hidden_size, true, gen, dtype));
  attention_ = register_module("attention", std::make_shared<attention::TemporalAttention>(o.hidden_size, o.feature_dim,
                                                                                           o.attn_dim, gen, dtype));
  cell_ =
      register_module("decoder", std::make_shared<nn::GRUCell>(o.embed_dim + o.feature_dim, o.hidden_size, gen, dtype));
  combine_ = register_module("combine", std::make_shared<nn::Linear>(o.hidden_size + o.feature_dim + o.embed_dim,
                                                                     o.hidden_size, true, gen, dtype));
  output_ = register_module("output", std::make_shared<nn::Linear>(o.hidden_size, o.vocab_size, true, gen, dtype));
}

std::pair<attention::SourceMemory, Tensor> TemporalAttentionNet::encode(const Tensor& features,
                                                                        const Tensor& lengths) const {
  attention::SourceMemory memory = attention_->prepare_features(features, lengths);
  // Mean over each sequence's own time steps (padded frames excluded).
  const Tensor valid = add(neg(memory.padding), 1.0);                                          // [B, T]
  const Tensor counts = sum(valid, {1}, true);                                                 // [B, 1]
  const Tensor mean_feature = div(squeeze(matmul(unsqueeze(valid, 1), features), 1), counts);  // [B, F]
  return {std::move(memory), tanh(init_->forward(mean_feature))};
}

Tensor TemporalAttentionNet::step(const Tensor& embedded, Tensor& hidden, const attention::SourceMemory& memory,
                                  attention::AttentionRead& read) const {
  Generator unused(0);  // temporal attention is deterministic
  read = attention_->forward(hidden, memory, 0, unused);
  hidden = cell_->forward(concat({embedded, read.context}, 1), hidden);
  return output_->forward(tanh(combine_->forward(concat({hidden, read.context, embedded}, 1))));
}

TemporalNetOutput TemporalAttentionNet::forward(const Tensor& features, const Tensor& lengths,
                                                const Tensor& target_inputs) const {
  ATTNSCALE_CHECK(target_inputs.defined() && target_inputs.dtype() == DType::i64 && target_inputs.dim() == 2 &&
                      features.dim() == 3 && target_inputs.shape()[0] == features.shape()[0],
                  kModel, "target inputs must be int64 [B, S] with the features' batch, got {} for features {}",
                  shape_str(target_inputs.shape()), shape_str(features.shape()));
  auto [memory, hidden] = encode(features, lengths);
  const Tensor embedded = embed_->forward(target_inputs);  // [B, S, E]
  TemporalNetOutput out;
  std::vector<Tensor> logits;
  for (int64_t t = 0; t < target_inputs.shape()[1]; ++t) {
    attention::AttentionRead read;
    logits.push_back(step(squeeze(narrow(embedded, 1, t, 1), 1), hidden, memory, read));
    out.reads.push_back(std::move(read));
  }
  out.logits = stack(logits, 1);
  return out;
}

Tensor TemporalAttentionNet::greedy_decode(const Tensor& features, const Tensor& lengths, int64_t steps) const {
  autograd::NoGradGuard no_grad;
  ATTNSCALE_CHECK(steps >= 1, kModel, "greedy decoding needs steps >= 1, got {}", steps);
  auto [memory, hidden] = encode(features, lengths);
  Tensor previous = Tensor::full({features.shape()[0]}, static_cast<double>(options_.bos_id), DType::i64);
  std::vector<Tensor> predicted;
  for (int64_t t = 0; t < steps; ++t) {
    attention::AttentionRead read;
    previous = argmax(step(embed_->forward(previous), hidden, memory, read), -1);
    predicted.push_back(previous);
  }
  return stack(predicted, 1);
}

}  // namespace attnscale::models

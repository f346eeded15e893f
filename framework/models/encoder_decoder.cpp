#include "framework/models/encoder_decoder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {
namespace {

attention::MultiHeadOptions self_attention_options(const EncoderDecoderOptions& o, bool causal) {
  attention::MultiHeadOptions h;
  h.d_model = o.d_model, h.n_heads = o.n_heads, h.n_kv_heads = o.n_kv_heads;
  h.rope_theta = 0.0;  // sinusoidal absolute positions instead (see the header)
  h.fused = o.fused_attention, h.scale = o.attention_scale, h.normalizer = o.normalizer;
  h.mask.causal = causal;
  return h;
}

int64_t ff(const EncoderDecoderOptions& o) { return o.d_ff > 0 ? o.d_ff : 4 * o.d_model; }

}  // namespace

Tensor sinusoidal_positions(int64_t n, int64_t d, DType dtype) {
  std::vector<double> table(static_cast<size_t>(n * d));
  for (int64_t pos = 0; pos < n; ++pos)
    for (int64_t i = 0; i < d; ++i) {
      const double angle = static_cast<double>(pos) / std::pow(10000.0, static_cast<double>(i - i % 2) / d);
      table[pos * d + i] = i % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return Tensor::from(table, {n, d}).to(dtype);
}

EncoderBlock::EncoderBlock(const EncoderDecoderOptions& o, Generator& gen, DType dtype) {
  norm1_ = register_module("norm1", nn::make_norm(o.norm, o.d_model, dtype));
  attn_ = register_module("attn", std::make_shared<attention::MultiHeadAttention>(self_attention_options(o, false), gen, dtype));
  norm2_ = register_module("norm2", nn::make_norm(o.norm, o.d_model, dtype));
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(o.d_model, ff(o), nn::Activation::gelu, gen, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
}

Tensor EncoderBlock::forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> valid,
                             Generator& dropout_gen) const {
  const Tensor h = add(x, dropout_->forward(attn_->forward(norm1_->forward(x), positions, valid), dropout_gen));
  return add(h, dropout_->forward(mlp_->forward(norm2_->forward(h)), dropout_gen));
}

DecoderBlock::DecoderBlock(const EncoderDecoderOptions& o, Generator& gen, DType dtype) {
  norm1_ = register_module("norm1", nn::make_norm(o.norm, o.d_model, dtype));
  self_attn_ = register_module(
      "self_attn", std::make_shared<attention::MultiHeadAttention>(self_attention_options(o, true), gen, dtype));
  norm2_ = register_module("norm2", nn::make_norm(o.norm, o.d_model, dtype));
  cross_attn_ = register_module(
      "cross_attn", std::make_shared<attention::CrossAttention>(
                        attention::CrossAttentionOptions{o.d_model, o.d_model, o.n_heads, o.n_kv_heads,
                                                         o.fused_attention, o.attention_scale, o.normalizer},
                        gen, dtype));
  norm3_ = register_module("norm3", nn::make_norm(o.norm, o.d_model, dtype));
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(o.d_model, ff(o), nn::Activation::gelu, gen, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
}

Tensor DecoderBlock::forward(const Tensor& y, const Tensor& positions, const Tensor& memory,
                             std::span<const int32_t> memory_valid, Generator& dropout_gen) const {
  Tensor h = add(y, dropout_->forward(self_attn_->forward(norm1_->forward(y), positions), dropout_gen));
  h = add(h, dropout_->forward(cross_attn_->forward(norm2_->forward(h), memory, memory_valid), dropout_gen));
  return add(h, dropout_->forward(mlp_->forward(norm3_->forward(h)), dropout_gen));
}

EncoderDecoderTransformer::EncoderDecoderTransformer(const EncoderDecoderOptions& o, Generator& gen, DType dtype)
    : options_(o), dtype_(dtype) {
  ATTNSCALE_CHECK(o.vocab_size > 0 && o.encoder_layers > 0 && o.decoder_layers > 0, "encoder_decoder",
                  "vocab_size ({}), encoder_layers ({}) and decoder_layers ({}) must be positive", o.vocab_size,
                  o.encoder_layers, o.decoder_layers);
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(o.vocab_size, o.d_model, gen,
                                                                    1.0 / std::sqrt(static_cast<double>(o.d_model)), dtype));
  for (int64_t i = 0; i < o.encoder_layers; ++i)
    encoder_.push_back(register_module(fmt::format("encoder.{}", i), std::make_shared<EncoderBlock>(o, gen, dtype)));
  encoder_norm_ = register_module("encoder_norm", nn::make_norm(o.norm, o.d_model, dtype));
  for (int64_t i = 0; i < o.decoder_layers; ++i)
    decoder_.push_back(register_module(fmt::format("decoder.{}", i), std::make_shared<DecoderBlock>(o, gen, dtype)));
  decoder_norm_ = register_module("decoder_norm", nn::make_norm(o.norm, o.d_model, dtype));
}

Tensor EncoderDecoderTransformer::embed(const Tensor& ids) const {
  ATTNSCALE_CHECK(ids.dim() == 2 && ids.dtype() == DType::i64, "encoder_decoder", "ids must be int64 [B, N], got {} {}",
                  dtype_name(ids.dtype()), shape_str(ids.shape()));
  const Tensor scaled = mul(embed_->forward(ids), std::sqrt(static_cast<double>(options_.d_model)));
  return add(scaled, sinusoidal_positions(ids.shape()[1], options_.d_model, dtype_));
}

Tensor EncoderDecoderTransformer::encode(const Tensor& source, std::span<const int32_t> source_valid,
                                         Generator& dropout_gen) const {
  Tensor h = embed(source);
  ATTNSCALE_CHECK(source_valid.empty() || static_cast<int64_t>(source_valid.size()) == source.numel(),
                  "encoder_decoder", "source_valid has {} entries for a {} source", source_valid.size(),
                  shape_str(source.shape()));
  const Tensor positions = Tensor::arange(source.shape()[1]);
  for (const auto& block : encoder_) h = block->forward(h, positions, source_valid, dropout_gen);
  return encoder_norm_->forward(h);
}

Tensor EncoderDecoderTransformer::decode(const Tensor& target_inputs, const Tensor& memory,
                                         std::span<const int32_t> source_valid, Generator& dropout_gen) const {
  Tensor h = embed(target_inputs);
  const Tensor positions = Tensor::arange(target_inputs.shape()[1]);
  for (const auto& block : decoder_) h = block->forward(h, positions, memory, source_valid, dropout_gen);
  h = decoder_norm_->forward(h);
  const int64_t b = h.shape()[0], n = h.shape()[1];
  const Tensor logits = matmul(reshape(h, {b * n, options_.d_model}), transpose(embed_->weight(), 0, 1));
  return reshape(logits, {b, n, options_.vocab_size});
}

Tensor EncoderDecoderTransformer::forward(const Tensor& source, std::span<const int32_t> source_valid,
                                          const Tensor& target_inputs, Generator& dropout_gen) const {
  return decode(target_inputs, encode(source, source_valid, dropout_gen), source_valid, dropout_gen);
}

Tensor EncoderDecoderTransformer::greedy(const Tensor& source, std::span<const int32_t> source_valid, int64_t bos,
                                         int64_t steps) const {
  autograd::NoGradGuard no_grad;
  Generator unused(0);  // dropout draws nothing in evaluation mode
  const int64_t b = source.shape()[0];
  const Tensor memory = encode(source, source_valid, unused);
  std::vector<int64_t> tokens(static_cast<size_t>(b), bos);  // [B, t+1] row-major, grows by a column per step
  std::vector<int64_t> out(static_cast<size_t>(b * steps));
  for (int64_t t = 0; t < steps; ++t) {
    const Tensor logits = decode(Tensor::from(tokens, {b, t + 1}), memory, source_valid, unused);
    const auto next = argmax(narrow(logits, 1, t, 1), -1).to_vector<int64_t>();
    std::vector<int64_t> grown(static_cast<size_t>(b * (t + 2)));
    for (int64_t row = 0; row < b; ++row) {
      std::copy_n(tokens.begin() + row * (t + 1), t + 1, grown.begin() + row * (t + 2));
      grown[row * (t + 2) + t + 1] = next[row];
      out[row * steps + t] = next[row];
    }
    tokens = std::move(grown);
  }
  return Tensor::from(out, {b, steps});
}

// The encoder output, source mask and prefix of the live hypotheses, one row each.
class EncoderDecoderTransformer::Decoding : public StepDecoder {
 public:
  Decoding(const EncoderDecoderTransformer& model, const Tensor& source, std::span<const int32_t> source_valid)
      : model_(model),
        source_len_(source.shape()[1]),
        memory_(model.encode(source, source_valid, unused_)),
        valid_(source_valid.begin(), source_valid.end()),
        prefixes_(static_cast<size_t>(source.shape()[0])) {}

  std::vector<double> next_log_probs(std::span<const int64_t> previous) override {
    const int64_t rows = static_cast<int64_t>(previous.size()), length = step_ + 1;
    std::vector<int64_t> tokens;
    for (int64_t row = 0; row < rows; ++row) {
      prefixes_[row].push_back(previous[row]);
      tokens.insert(tokens.end(), prefixes_[row].begin(), prefixes_[row].end());
    }
    const Tensor logits = model_.decode(Tensor::from(tokens, {rows, length}), memory_, valid_, unused_);
    const Tensor last = narrow(logits, 1, step_++, 1).to(DType::f64);
    return log_softmax_rows(last.to_vector<double>(), model_.options_.vocab_size);
  }

  void keep(std::span<const int64_t> rows) override {
    memory_ = index_select(memory_, 0,
                           Tensor::from(std::vector<int64_t>(rows.begin(), rows.end()), {static_cast<int64_t>(rows.size())}));
    std::vector<int32_t> valid;
    std::vector<std::vector<int64_t>> prefixes;
    for (const int64_t row : rows) {
      if (!valid_.empty()) valid.insert(valid.end(), valid_.begin() + row * source_len_, valid_.begin() + (row + 1) * source_len_);
      prefixes.push_back(prefixes_[row]);
    }
    valid_ = std::move(valid), prefixes_ = std::move(prefixes);
  }

 private:
  autograd::NoGradGuard no_grad_;
  Generator unused_{0};  // dropout draws nothing in evaluation mode
  const EncoderDecoderTransformer& model_;
  int64_t source_len_;
  Tensor memory_;
  std::vector<int32_t> valid_;  // [rows * source_len_], or empty: no padding
  std::vector<std::vector<int64_t>> prefixes_;
  int64_t step_ = 0;
};

std::unique_ptr<StepDecoder> EncoderDecoderTransformer::start_decoding(const Tensor& source,
                                                                       std::span<const int32_t> source_valid) const {
  return std::make_unique<Decoding>(*this, source, source_valid);
}

}  // namespace attnscale::models

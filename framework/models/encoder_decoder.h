// The Transformer encoder-decoder of Vaswani et al. 2017 (arXiv:1706.03762), pre-norm:
//   encoder block: norm -> self-attention over the source (padding masked) -> residual,
//                  norm -> MLP -> residual
//   decoder block: norm -> causal self-attention -> residual,
//                  norm -> cross-attention over the encoder output -> residual,
//                  norm -> MLP -> residual
// One embedding table serves source, target and the output projection (the paper's sharing),
// scaled by sqrt(d_model), plus the paper's sinusoidal position encodings: cross-attention
// compares positions of two different sequences, which rotary offsets within one cannot express.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framework/attention/cross_attention.h"
#include "framework/attention/multi_head.h"
#include "framework/models/beam_search.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

struct EncoderDecoderOptions {
  int64_t vocab_size = 16;
  int64_t d_model = 64;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 0;  // 0 = n_heads
  int64_t d_ff = 0;        // 0 = 4 * d_model
  int64_t encoder_layers = 2;
  int64_t decoder_layers = 2;
  double dropout = 0.0;
  std::string norm = "layernorm";
  bool fused_attention = true;
  double attention_scale = 0.0;  // 0 = 1/sqrt(head_dim)
  kernels::Normalizer normalizer = kernels::Normalizer::softmax;
};

// PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)): [n, d].
Tensor sinusoidal_positions(int64_t n, int64_t d, DType dtype = DType::f32);

class EncoderBlock : public nn::Module {
 public:
  EncoderBlock(const EncoderDecoderOptions& options, Generator& gen, DType dtype);
  Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> valid, Generator& dropout_gen) const;

 private:
  std::shared_ptr<nn::Norm> norm1_, norm2_;
  std::shared_ptr<attention::MultiHeadAttention> attn_;
  std::shared_ptr<nn::MLP> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

class DecoderBlock : public nn::Module {
 public:
  DecoderBlock(const EncoderDecoderOptions& options, Generator& gen, DType dtype);
  Tensor forward(const Tensor& y, const Tensor& positions, const Tensor& memory, std::span<const int32_t> memory_valid,
                 Generator& dropout_gen) const;

 private:
  std::shared_ptr<nn::Norm> norm1_, norm2_, norm3_;
  std::shared_ptr<attention::MultiHeadAttention> self_attn_;
  std::shared_ptr<attention::CrossAttention> cross_attn_;
  std::shared_ptr<nn::MLP> mlp_;
  std::shared_ptr<nn::Dropout> dropout_;
};

class EncoderDecoderTransformer : public nn::Module {
 public:
  EncoderDecoderTransformer(const EncoderDecoderOptions& options, Generator& gen, DType dtype = DType::f32);

  // source int64 [B, S]; source_valid [B * S] (nonzero = a word, empty = no padding) -> memory [B, S, d_model].
  Tensor encode(const Tensor& source, std::span<const int32_t> source_valid, Generator& dropout_gen) const;
  // target_inputs int64 [B, T] over memory -> logits [B, T, vocab].
  Tensor decode(const Tensor& target_inputs, const Tensor& memory, std::span<const int32_t> source_valid,
                Generator& dropout_gen) const;
  Tensor forward(const Tensor& source, std::span<const int32_t> source_valid, const Tensor& target_inputs,
                 Generator& dropout_gen) const;

  // Greedy decoding from `bos` for `steps` tokens (no gradient; call in evaluation mode): int64 [B, steps].
  Tensor greedy(const Tensor& source, std::span<const int32_t> source_valid, int64_t bos, int64_t steps) const;

  // The decoder beam_search drives over the encoded source (no gradients while it lives; call in
  // evaluation mode). Each step runs the decoder over every live prefix again, as greedy() does.
  std::unique_ptr<StepDecoder> start_decoding(const Tensor& source, std::span<const int32_t> source_valid) const;

  const EncoderDecoderOptions& options() const { return options_; }

 private:
  class Decoding;
  Tensor embed(const Tensor& ids) const;

  EncoderDecoderOptions options_;
  DType dtype_;
  std::shared_ptr<nn::Embedding> embed_;
  std::vector<std::shared_ptr<EncoderBlock>> encoder_;
  std::vector<std::shared_ptr<DecoderBlock>> decoder_;
  std::shared_ptr<nn::Norm> encoder_norm_, decoder_norm_;
};

}  // namespace attnscale::models

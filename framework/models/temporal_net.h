// TemporalAttentionNet: a sequence of feature vectors (one per time step, e.g. video frames) to a
// label or a token sequence, with temporal attention (attention/temporal.h) at every decoder step,
// after Yao et al. 2015 (1502.08029):
//   h_0 = tanh(W_init mean_i v_i)                           (the paper starts from the mean feature)
//   phi_t = temporal_attention(h_{t-1}, v_1..v_T)
//   h_t = GRU([E y_{t-1}; phi_t], h_{t-1})
//   logits_t = W_out tanh(W_c [h_t; phi_t; E y_{t-1}])     (the deep output layer)
// The paper's decoder is an LSTM; a GRU (nn/gru.h) keeps one recurrent cell in the project. A label
// is a one-step decode from bos.
#pragma once

#include <memory>
#include <vector>

#include "framework/attention/temporal.h"
#include "framework/nn/gru.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

struct TemporalNetOptions {
  int64_t feature_dim = 16;
  int64_t vocab_size = 16;  // output tokens, including bos
  int64_t hidden_size = 64;
  int64_t embed_dim = 0;  // 0 = hidden_size
  int64_t attn_dim = 0;   // 0 = hidden_size
  int64_t bos_id = 1;
};

struct TemporalNetOutput {
  Tensor logits;                                // [B, S, vocab]
  std::vector<attention::AttentionRead> reads;  // alpha^(t) per output step
};

class TemporalAttentionNet : public nn::Module {
 public:
  TemporalAttentionNet(const TemporalNetOptions& options, Generator& gen, DType dtype = DType::f32);

  // Teacher forcing: features [B, T, F] right-padded, lengths int64 [B] (undefined = all T),
  // target_inputs int64 [B, S] (bos then the targets shifted right).
  TemporalNetOutput forward(const Tensor& features, const Tensor& lengths, const Tensor& target_inputs) const;

  // Greedy decoding of `steps` tokens from bos: int64 [B, steps]; no gradients.
  Tensor greedy_decode(const Tensor& features, const Tensor& lengths, int64_t steps) const;

  const TemporalNetOptions& options() const { return options_; }
  const attention::TemporalAttention& attention() const { return *attention_; }

 private:
  std::pair<attention::SourceMemory, Tensor> encode(const Tensor& features, const Tensor& lengths) const;
  // One step from the embedded previous token [B, E]: updates h, returns logits [B, vocab].
  Tensor step(const Tensor& embedded, Tensor& hidden, const attention::SourceMemory& memory,
              attention::AttentionRead& read) const;

  TemporalNetOptions options_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::Linear> init_;
  std::shared_ptr<attention::TemporalAttention> attention_;
  std::shared_ptr<nn::GRUCell> cell_;
  std::shared_ptr<nn::Linear> combine_, output_;
};

}  // namespace attnscale::models

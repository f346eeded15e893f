// An RNN encoder-decoder with attention: source embedding -> GRU encoder (optionally bidirectional,
// multi-layer) -> GRU decoder that attends over the encoder states at every step -> output
// projection. Two decoder wirings, chosen by the mechanism:
//   Luong (soft, global, local, hard; 1508.04025):
//     h_t = GRU([E y_{t-1}; h~_{t-1}], h_{t-1})       (h~_{t-1} only with input feeding)
//     c_t = attend(h_t);  h~_t = tanh(W_c [c_t; h_t]);  logits_t = W_s h~_t
//   Bahdanau (additive; 1409.0473):
//     c_t = attend(s_{t-1});  s_t = GRU([E y_{t-1}; c_t], s_{t-1})
//     h~_t = tanh(W_c [s_t; c_t; E y_{t-1}]);  logits_t = W_s h~_t   (a tanh layer for the maxout)
// The decoder's initial state per layer is tanh(W_b [final forward; final backward encoder state]).
// Source and target share one vocabulary in which pad, bos and eos are ids 0, 1 and 2.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "framework/attention/source_attention.h"
#include "framework/models/beam_search.h"
#include "framework/nn/gru.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

// Builds the decoder's attention from the decoder state size (query_dim) and the encoder state size
// (key_dim). The mechanism's registration (framework/train/mechanisms/) supplies it, with the
// mechanism's own options bound.
using SourceAttentionFactory =
    std::function<std::shared_ptr<attention::SourceAttention>(int64_t query_dim, int64_t key_dim, Generator&, DType)>;

struct Seq2SeqOptions {
  int64_t vocab_size = 16;
  int64_t embed_dim = 32;
  int64_t hidden_size = 64;   // encoder GRU per direction, and decoder GRU
  int64_t num_layers = 1;     // encoder and decoder layers
  bool bidirectional = true;  // encoder
  bool input_feeding = true;  // Luong wiring only (Bahdanau's already feeds the context)
  double dropout = 0.0;       // on embeddings and attentional states
  SourceAttentionFactory attention;
  // Bahdanau et al. (additive attention): the context joins the decoder input and the output layer
  // and there is no input feeding; otherwise Luong et al.'s wiring.
  bool bahdanau_wiring = false;
  int64_t pad_id = 0, bos_id = 1, eos_id = 2;
};

struct Seq2SeqOutput {
  Tensor logits;                                // [B, T, vocab]
  std::vector<attention::AttentionRead> reads;  // one per decoder step
};

class Seq2Seq : public nn::Module {
 public:
  Seq2Seq(const Seq2SeqOptions& options, Generator& gen, DType dtype = DType::f32);

  // Teacher forcing: source int64 [B, S] right-padded, source_lengths int64 [B], target_inputs int64
  // [B, T] (bos then the target shifted right). `gen` drives dropout and hard-attention samples.
  Seq2SeqOutput forward(const Tensor& source, const Tensor& source_lengths, const Tensor& target_inputs,
                        Generator& gen) const;

  // Greedy decoding for `steps` steps from bos: int64 [B, steps] (positions after a sequence's eos
  // hold whatever was predicted; callers stop at eos). Runs without gradients in the current mode.
  Tensor greedy_decode(const Tensor& source, const Tensor& source_lengths, int64_t steps, Generator& gen) const;

  // The decoder beam_search drives over the encoded source (no gradients while it lives; call in
  // evaluation mode). Holds references to this model and `gen`.
  std::unique_ptr<StepDecoder> start_decoding(const Tensor& source, const Tensor& source_lengths, Generator& gen) const;

  // The mechanism's extra training loss (hard attention's REINFORCE surrogate), or undefined.
  Tensor auxiliary_loss(const Seq2SeqOutput& output, const Tensor& rewards, const Tensor& target_mask);

  const Seq2SeqOptions& options() const { return options_; }
  const attention::SourceAttention& attention() const { return *attention_; }
  bool bahdanau_wiring() const { return options_.bahdanau_wiring; }

 private:
  class Decoding;
  struct DecoderState {
    std::vector<Tensor> hidden;  // per layer [B, H]
    Tensor attentional;          // h~_{t-1} [B, H] (Luong input feeding)
  };

  // Encodes the source into the attention memory and the decoder's initial state.
  std::pair<attention::SourceMemory, DecoderState> encode(const Tensor& source, const Tensor& source_lengths,
                                                          Generator& gen) const;
  // One decoder step from the embedded previous token [B, E]; returns h~_t and the read.
  std::pair<Tensor, attention::AttentionRead> decode_step(const Tensor& embedded, DecoderState& state,
                                                          const attention::SourceMemory& memory, int64_t step,
                                                          Generator& gen) const;
  Tensor run_decoder_cells(const Tensor& input, DecoderState& state) const;  // returns the top state

  Seq2SeqOptions options_;
  std::shared_ptr<nn::Embedding> source_embed_, target_embed_;
  std::shared_ptr<nn::GRU> encoder_;
  std::shared_ptr<nn::Linear> bridge_;
  std::vector<std::shared_ptr<nn::GRUCell>> decoder_cells_;
  std::shared_ptr<attention::SourceAttention> attention_;
  std::shared_ptr<nn::Linear> combine_;  // W_c
  std::shared_ptr<nn::Linear> output_;   // W_s
  std::shared_ptr<nn::Dropout> dropout_;
};

}  // namespace attnscale::models

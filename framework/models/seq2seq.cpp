#include "framework/models/seq2seq.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

Seq2Seq::Seq2Seq(const Seq2SeqOptions& options, Generator& gen, DType dtype) : options_(options) {
  const Seq2SeqOptions& o = options_;
  ATTNSCALE_CHECK(o.vocab_size > std::max({o.pad_id, o.bos_id, o.eos_id}), "seq2seq",
                  "vocab_size {} must exceed the special ids (pad {}, bos {}, eos {})", o.vocab_size, o.pad_id,
                  o.bos_id, o.eos_id);
  ATTNSCALE_CHECK(o.embed_dim > 0 && o.hidden_size > 0 && o.num_layers >= 1, "seq2seq",
                  "embed_dim ({}), hidden_size ({}) and num_layers ({}) must be positive", o.embed_dim, o.hidden_size,
                  o.num_layers);
  ATTNSCALE_CHECK(o.dropout >= 0 && o.dropout < 1, "seq2seq", "dropout must lie in [0, 1), got {}", o.dropout);
  ATTNSCALE_CHECK(static_cast<bool>(o.attention), "seq2seq",
                  "options.attention is empty: the mechanism's registration installs it (train/mechanisms/)");
  source_embed_ =
      register_module("source_embed", std::make_shared<nn::Embedding>(o.vocab_size, o.embed_dim, gen, 1.0, dtype));
  target_embed_ =
      register_module("target_embed", std::make_shared<nn::Embedding>(o.vocab_size, o.embed_dim, gen, 1.0, dtype));
  encoder_ = register_module(
      "encoder",
      std::make_shared<nn::GRU>(nn::GRUOptions{o.embed_dim, o.hidden_size, o.num_layers, o.bidirectional}, gen, dtype));
  const int64_t key_dim = encoder_->output_size();
  bridge_ = register_module("bridge", std::make_shared<nn::Linear>(key_dim, o.hidden_size, true, gen, dtype));
  const int64_t fed = bahdanau_wiring() ? key_dim : (o.input_feeding ? o.hidden_size : 0);
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    const int64_t in = layer == 0 ? o.embed_dim + fed : o.hidden_size;
    decoder_cells_.push_back(register_module("decoder." + std::to_string(layer),
                                             std::make_shared<nn::GRUCell>(in, o.hidden_size, gen, dtype)));
  }
  attention_ =
      register_module("attention", o.attention(o.hidden_size, key_dim, gen, dtype));
  const int64_t combined = bahdanau_wiring() ? o.hidden_size + key_dim + o.embed_dim : key_dim + o.hidden_size;
  combine_ = register_module("combine", std::make_shared<nn::Linear>(combined, o.hidden_size, false, gen, dtype));
  output_ = register_module("output", std::make_shared<nn::Linear>(o.hidden_size, o.vocab_size, true, gen, dtype));
  dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(o.dropout));
}

std::pair<attention::SourceMemory, Seq2Seq::DecoderState> Seq2Seq::encode(const Tensor& source,
                                                                          const Tensor& source_lengths,
                                                                          Generator& gen) const {
  ATTNSCALE_CHECK(source.dtype() == DType::i64 && source.dim() == 2, "seq2seq",
                  "source must be int64 [B, S], got {} {}", dtype_name(source.dtype()), shape_str(source.shape()));
  const int64_t batch = source.shape()[0], layers = options_.num_layers, hs = options_.hidden_size;
  const nn::GRUOutput encoded =
      encoder_->forward(dropout_->forward(source_embed_->forward(source), gen), source_lengths);
  attention::SourceMemory memory = attention_->prepare(encoded.outputs, source_lengths);
  // final_states [layers * dirs, B, H] -> [layers, B, dirs * H]: each decoder layer starts from its
  // encoder layer's final states of both directions.
  const int64_t dirs = encoder_->directions();
  const Tensor finals = reshape(permute(reshape(encoded.final_states, {layers, dirs, batch, hs}), {0, 2, 1, 3}),
                                {layers, batch, dirs * hs});
  const Tensor initial = tanh(bridge_->forward(finals));
  DecoderState state;
  for (int64_t layer = 0; layer < layers; ++layer) state.hidden.push_back(squeeze(narrow(initial, 0, layer, 1), 0));
  if (!bahdanau_wiring() && options_.input_feeding)
    state.attentional = Tensor::zeros({batch, hs}, encoded.outputs.dtype());
  return {std::move(memory), std::move(state)};
}

Tensor Seq2Seq::run_decoder_cells(const Tensor& input, DecoderState& state) const {
  Tensor x = input;
  for (size_t layer = 0; layer < decoder_cells_.size(); ++layer) {
    state.hidden[layer] = decoder_cells_[layer]->forward(x, state.hidden[layer]);
    x = state.hidden[layer];
  }
  return x;
}

std::pair<Tensor, attention::AttentionRead> Seq2Seq::decode_step(const Tensor& embedded, DecoderState& state,
                                                                 const attention::SourceMemory& memory, int64_t step,
                                                                 Generator& gen) const {
  if (bahdanau_wiring()) {
    attention::AttentionRead read = attention_->forward(state.hidden.back(), memory, step, gen);
    const Tensor top = run_decoder_cells(concat({embedded, read.context}, 1), state);
    const Tensor attentional = tanh(combine_->forward(concat({top, read.context, embedded}, 1)));
    return {dropout_->forward(attentional, gen), std::move(read)};
  }
  const Tensor input = state.attentional.defined() ? concat({embedded, state.attentional}, 1) : embedded;
  const Tensor top = run_decoder_cells(input, state);
  attention::AttentionRead read = attention_->forward(top, memory, step, gen);
  const Tensor attentional = dropout_->forward(tanh(combine_->forward(concat({read.context, top}, 1))), gen);
  if (state.attentional.defined()) state.attentional = attentional;
  return {attentional, std::move(read)};
}

Seq2SeqOutput Seq2Seq::forward(const Tensor& source, const Tensor& source_lengths, const Tensor& target_inputs,
                               Generator& gen) const {
  ATTNSCALE_CHECK(
      target_inputs.dtype() == DType::i64 && target_inputs.dim() == 2 && target_inputs.shape()[0] == source.shape()[0],
      "seq2seq", "target inputs must be int64 [B, T] with the source's batch {}, got {} {}", source.shape()[0],
      dtype_name(target_inputs.dtype()), shape_str(target_inputs.shape()));
  auto [memory, state] = encode(source, source_lengths, gen);
  const Tensor embedded = dropout_->forward(target_embed_->forward(target_inputs), gen);  // [B, T, E]
  const int64_t steps = target_inputs.shape()[1];
  Seq2SeqOutput out;
  std::vector<Tensor> attentional;
  for (int64_t t = 0; t < steps; ++t) {
    auto [h, read] = decode_step(squeeze(narrow(embedded, 1, t, 1), 1), state, memory, t, gen);
    attentional.push_back(h);
    out.reads.push_back(std::move(read));
  }
  out.logits = output_->forward(stack(attentional, 1));  // one GEMM for all steps
  return out;
}

Tensor Seq2Seq::greedy_decode(const Tensor& source, const Tensor& source_lengths, int64_t steps, Generator& gen) const {
  autograd::NoGradGuard no_grad;
  auto [memory, state] = encode(source, source_lengths, gen);
  Tensor previous = Tensor::full({source.shape()[0]}, static_cast<double>(options_.bos_id), DType::i64);
  std::vector<Tensor> predicted;
  for (int64_t t = 0; t < steps; ++t) {
    const Tensor h = decode_step(target_embed_->forward(previous), state, memory, t, gen).first;
    previous = argmax(output_->forward(h), -1);
    predicted.push_back(previous);
  }
  return stack(predicted, 1);
}

// The decoder state and source memory of the live hypotheses, one row each.
class Seq2Seq::Decoding : public StepDecoder {
 public:
  Decoding(const Seq2Seq& model, const Tensor& source, const Tensor& source_lengths, Generator& gen)
      : model_(model), gen_(gen) {
    std::tie(memory_, state_) = model.encode(source, source_lengths, gen);
  }

  std::vector<double> next_log_probs(std::span<const int64_t> previous) override {
    const Tensor tokens = Tensor::from(std::vector<int64_t>(previous.begin(), previous.end()),
                                       {static_cast<int64_t>(previous.size())});
    const Tensor h = model_.decode_step(model_.target_embed_->forward(tokens), state_, memory_, step_++, gen_).first;
    const Tensor logits = model_.output_->forward(h);
    return log_softmax_rows(logits.to(DType::f64).to_vector<double>(), logits.shape()[1]);
  }

  void keep(std::span<const int64_t> rows) override {
    const Tensor index = Tensor::from(std::vector<int64_t>(rows.begin(), rows.end()), {static_cast<int64_t>(rows.size())});
    const auto pick = [&](Tensor& t) {
      if (t.defined()) t = index_select(t, 0, index);
    };
    for (Tensor* t : {&memory_.states, &memory_.keys, &memory_.padding, &memory_.lengths, &state_.attentional}) pick(*t);
    for (Tensor& hidden : state_.hidden) pick(hidden);
  }

 private:
  autograd::NoGradGuard no_grad_;
  const Seq2Seq& model_;
  Generator& gen_;
  attention::SourceMemory memory_;
  DecoderState state_;
  int64_t step_ = 0;
};

std::unique_ptr<StepDecoder> Seq2Seq::start_decoding(const Tensor& source, const Tensor& source_lengths,
                                                     Generator& gen) const {
  return std::make_unique<Decoding>(*this, source, source_lengths, gen);
}

Tensor Seq2Seq::auxiliary_loss(const Seq2SeqOutput& output, const Tensor& rewards, const Tensor& target_mask) {
  return attention_->auxiliary_loss(output.reads, rewards, target_mask);
}

}  // namespace attnscale::models

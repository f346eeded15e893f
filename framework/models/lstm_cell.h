// A minimal LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000):
//   [i, f, g, o] = W [x; h] + b,  c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
// The captioning decoder needs the memory cell c (the visual sentinel reads it), which a GRU does
// not have. Kept next to its only user; it belongs in nn/ once a second model needs it.
#pragma once

#include <memory>

#include "framework/nn/layers.h"

namespace attnscale::models {

struct LstmState {
  Tensor h;  // [B, hidden]
  Tensor c;  // [B, hidden] (the memory cell)
};

class LstmCell : public nn::Module {
 public:
  LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype = DType::f32);
  // x [B, input_size] -> the next state.
  LstmState forward(const Tensor& x, const LstmState& state) const;
  // Zeros for a batch of `batch`.
  LstmState initial_state(int64_t batch) const;
  int64_t hidden_size() const { return hidden_; }

 private:
  int64_t input_, hidden_;
  DType dtype_;
  std::shared_ptr<nn::Linear> gates_;
};

}  // namespace attnscale::models

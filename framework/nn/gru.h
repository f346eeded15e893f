// Gated recurrent unit (Cho et al. 2014, 1406.1078), gates in PyTorch's order and form:
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
// so weights and results can be compared with torch.nn.GRU. Variable-length batches are right-padded;
// a padded step leaves the state unchanged and outputs zeros, which gives the same final states as
// PyTorch's packed sequences (the backward direction starts at each sequence's own last token).
#pragma once

#include <memory>
#include <vector>

#include "framework/nn/module.h"
#include "framework/core/tensor/random.h"

namespace attnscale::nn {

// One GRU step. Parameters: weight_ih [3H, in], weight_hh [3H, H], bias_ih [3H], bias_hh [3H], all
// ~ U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
class GRUCell : public Module {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype = DType::f32);

  // x [B, in], h [B, H] -> h' [B, H].
  Tensor forward(const Tensor& x, const Tensor& h) const;
  // The input half of the gates, W_ih x + b_ih, for any leading axes: [..., in] -> [..., 3H]. A
  // sequence's inputs are projected in one GEMM before the time loop.
  Tensor project_input(const Tensor& x) const;
  // One step from projected inputs: gates_x [B, 3H] (from project_input), h [B, H] -> h' [B, H].
  Tensor step(const Tensor& gates_x, const Tensor& h) const;

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }

 private:
  int64_t input_size_, hidden_size_;
  Tensor weight_ih_, weight_hh_, bias_ih_, bias_hh_;
};

struct GRUOptions {
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bidirectional = false;
};

struct GRUOutput {
  Tensor outputs;       // [B, T, H * directions]: the top layer's states, zero at padded steps
  Tensor final_states;  // [layers * directions, B, H], PyTorch's h_n order (layer-major, forward first)
};

// A multi-layer, optionally bidirectional GRU over right-padded batches. Parameter names follow
// PyTorch's structure: layers.<l>.forward.*, layers.<l>.backward.*.
class GRU : public Module {
 public:
  GRU(const GRUOptions& options, Generator& gen, DType dtype = DType::f32);

  // x [B, T, input_size]; lengths int64 [B] with 1 <= lengths[b] <= T (undefined = all T);
  // initial_states [layers * directions, B, H] (undefined = zeros).
  GRUOutput forward(const Tensor& x, const Tensor& lengths = {}, const Tensor& initial_states = {}) const;

  const GRUOptions& options() const { return options_; }
  int64_t directions() const { return options_.bidirectional ? 2 : 1; }
  int64_t output_size() const { return options_.hidden_size * directions(); }

 private:
  // Runs one direction of one layer: inputs [B, T, in], step masks [T] of [B, 1] (undefined = no
  // padding). Returns the states [B, T, H] and the final state [B, H].
  std::pair<Tensor, Tensor> run_direction(const GRUCell& cell, const Tensor& inputs,
                                          const std::vector<Tensor>& step_masks, const Tensor& initial,
                                          bool reverse) const;

  GRUOptions options_;
  std::vector<std::shared_ptr<GRUCell>> cells_;  // layer-major, forward then backward
};

// Per-step validity masks for right-padded sequences: lengths int64 [B] (host) -> T tensors [B, 1]
// of `dtype` on `device`, 1 where t < lengths[b] (made on the host and copied at once). Checks
// 1 <= lengths[b] <= T and names `where` otherwise.
std::vector<Tensor> step_masks(const Tensor& lengths, int64_t steps, DType dtype, Device device, const char* where);

}  // namespace attnscale::nn

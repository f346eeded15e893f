#include "framework/nn/gru.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::nn {

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype)
    : input_size_(input_size), hidden_size_(hidden_size) {
  ATTNSCALE_CHECK(input_size > 0 && hidden_size > 0, "gru", "input size ({}) and hidden size ({}) must be positive",
                  input_size, hidden_size);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  const int64_t gates = 3 * hidden_size;
  weight_ih_ = register_parameter("weight_ih", Tensor::rand({gates, input_size}, gen, dtype, -bound, bound));
  weight_hh_ = register_parameter("weight_hh", Tensor::rand({gates, hidden_size}, gen, dtype, -bound, bound));
  bias_ih_ = register_parameter("bias_ih", Tensor::rand({gates}, gen, dtype, -bound, bound));
  bias_hh_ = register_parameter("bias_hh", Tensor::rand({gates}, gen, dtype, -bound, bound));
}

Tensor GRUCell::project_input(const Tensor& x) const {
  ATTNSCALE_CHECK(x.dim() >= 1 && x.shape().back() == input_size_, "gru", "input {} does not end in {} features",
                  shape_str(x.shape()), input_size_);
  Shape out_shape = x.shape();
  out_shape.back() = 3 * hidden_size_;
  return reshape(add(matmul(reshape(x, {-1, input_size_}), transpose(weight_ih_, 0, 1)), bias_ih_), out_shape);
}

Tensor GRUCell::step(const Tensor& gates_x, const Tensor& h) const {
  const int64_t hs = hidden_size_;
  ATTNSCALE_CHECK(h.dim() == 2 && h.shape()[1] == hs && gates_x.dim() == 2 && gates_x.shape()[1] == 3 * hs &&
                      gates_x.shape()[0] == h.shape()[0],
                  "gru", "step expects input gates [B, {}] and state [B, {}], got {} and {}", 3 * hs, hs,
                  shape_str(gates_x.shape()), shape_str(h.shape()));
  const Tensor gates_h = add(matmul(h, transpose(weight_hh_, 0, 1)), bias_hh_);
  const auto xs = split(gates_x, hs, 1), hs_parts = split(gates_h, hs, 1);
  const Tensor reset = sigmoid(add(xs[0], hs_parts[0]));
  const Tensor update = sigmoid(add(xs[1], hs_parts[1]));
  const Tensor candidate = tanh(add(xs[2], mul(reset, hs_parts[2])));
  // (1 - z) n + z h = n + z (h - n): one op fewer.
  return add(candidate, mul(update, sub(h, candidate)));
}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) const { return step(project_input(x), h); }

std::vector<Tensor> step_masks(const Tensor& lengths, int64_t steps, DType dtype, Device device, const char* where) {
  ATTNSCALE_CHECK(lengths.dtype() == DType::i64 && lengths.dim() == 1, where, "lengths must be int64 [B], got {} {}",
                  dtype_name(lengths.dtype()), shape_str(lengths.shape()));
  const auto lens = lengths.to_vector<int64_t>();
  for (size_t b = 0; b < lens.size(); ++b)
    ATTNSCALE_CHECK(lens[b] >= 1 && lens[b] <= steps, where, "lengths[{}] = {} is outside [1, {}]", b, lens[b], steps);
  const auto batch = static_cast<int64_t>(lens.size());
  Tensor all = Tensor::empty({steps, batch, 1}, dtype);
  ATTNSCALE_DISPATCH_FLOAT(dtype, where, [&] {
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t b = 0; b < batch; ++b)
        all.data<scalar_t>()[t * batch + b] = t < lens[static_cast<size_t>(b)] ? 1 : 0;
  });
  all = all.to(device);
  std::vector<Tensor> masks;
  masks.reserve(static_cast<size_t>(steps));
  for (int64_t t = 0; t < steps; ++t) masks.push_back(squeeze(narrow(all, 0, t, 1), 0));
  return masks;
}

GRU::GRU(const GRUOptions& options, Generator& gen, DType dtype) : options_(options) {
  ATTNSCALE_CHECK(options.num_layers >= 1, "gru", "num_layers must be >= 1, got {}", options.num_layers);
  for (int64_t layer = 0; layer < options.num_layers; ++layer) {
    const int64_t in = layer == 0 ? options.input_size : output_size();
    for (int64_t dir = 0; dir < directions(); ++dir) {
      auto cell = std::make_shared<GRUCell>(in, options.hidden_size, gen, dtype);
      // A dotted child name gives the hierarchy layers.<l>.<direction> without a container module.
      cells_.push_back(
          register_module("layers." + std::to_string(layer) + (dir == 0 ? ".forward" : ".backward"), cell));
    }
  }
}

std::pair<Tensor, Tensor> GRU::run_direction(const GRUCell& cell, const Tensor& inputs,
                                             const std::vector<Tensor>& masks, const Tensor& initial,
                                             bool reverse) const {
  const int64_t steps = inputs.shape()[1];
  const Tensor gates_x = cell.project_input(inputs);  // [B, T, 3H] in one GEMM
  std::vector<Tensor> outputs(static_cast<size_t>(steps));
  Tensor h = initial;
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = reverse ? steps - 1 - i : i;
    const Tensor next = cell.step(squeeze(narrow(gates_x, 1, t, 1), 1), h);
    if (masks.empty()) {
      h = next;
      outputs[static_cast<size_t>(t)] = h;
    } else {
      // Padded steps keep the state (so the reverse direction starts at each sequence's last token)
      // and output zeros.
      const Tensor& m = masks[static_cast<size_t>(t)];
      h = add(h, mul(m, sub(next, h)));
      outputs[static_cast<size_t>(t)] = mul(m, h);
    }
  }
  return {stack(outputs, 1), h};
}

GRUOutput GRU::forward(const Tensor& x, const Tensor& lengths, const Tensor& initial_states) const {
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.input_size, "gru", "input must be [B, T, {}], got {}",
                  options_.input_size, shape_str(x.shape()));
  const int64_t batch = x.shape()[0], steps = x.shape()[1], hs = options_.hidden_size;
  const int64_t states = options_.num_layers * directions();
  ATTNSCALE_CHECK(steps >= 1, "gru", "input has no time steps ({})", shape_str(x.shape()));
  if (initial_states.defined())
    ATTNSCALE_CHECK(initial_states.shape() == Shape({states, batch, hs}), "gru",
                    "initial states must be [{}, {}, {}], got {}", states, batch, hs,
                    shape_str(initial_states.shape()));
  std::vector<Tensor> masks;
  if (lengths.defined()) {
    ATTNSCALE_CHECK(lengths.numel() == batch, "gru", "{} lengths for a batch of {}", lengths.numel(), batch);
    const auto lens = lengths.to_vector<int64_t>();
    // Full-length batches skip the masking ops.
    if (std::any_of(lens.begin(), lens.end(), [&](int64_t n) { return n != steps; }))
      masks = step_masks(lengths, steps, x.dtype(), x.device(), "gru");
  }
  std::vector<Tensor> finals;
  Tensor layer_input = x;
  for (int64_t layer = 0; layer < options_.num_layers; ++layer) {
    std::vector<Tensor> direction_outputs;
    for (int64_t dir = 0; dir < directions(); ++dir) {
      const int64_t index = layer * directions() + dir;
      const Tensor initial = initial_states.defined() ? squeeze(narrow(initial_states, 0, index, 1), 0)
                                                      : Tensor::zeros({batch, hs}, x.dtype(), x.device());
      auto [out, final_state] =
          run_direction(*cells_[static_cast<size_t>(index)], layer_input, masks, initial, dir == 1);
      direction_outputs.push_back(out);
      finals.push_back(final_state);
    }
    layer_input = direction_outputs.size() == 1 ? direction_outputs[0] : concat(direction_outputs, 2);
  }
  return {layer_input, stack(finals, 0)};
}

}  // namespace attnscale::nn

#include "framework/models/lstm_cell.h"

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

LstmCell::LstmCell(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype)
    : input_(input_size), hidden_(hidden_size), dtype_(dtype) {
  ATTNSCALE_CHECK(input_size > 0 && hidden_size > 0, "lstm", "sizes must be positive, got {} -> {}", input_size,
                  hidden_size);
  gates_ = register_module("gates", std::make_shared<nn::Linear>(input_size + hidden_size, 4 * hidden_size, true, gen, dtype));
}

LstmState LstmCell::initial_state(int64_t batch) const {
  return {Tensor::zeros({batch, hidden_}, dtype_), Tensor::zeros({batch, hidden_}, dtype_)};
}

LstmState LstmCell::forward(const Tensor& x, const LstmState& state) const {
  ATTNSCALE_CHECK(x.dim() == 2 && x.shape()[1] == input_ && state.h.dim() == 2 && state.h.shape()[0] == x.shape()[0],
                  "lstm", "x must be [B, {}] with a [B, {}] state, got {} and {}", input_, hidden_, shape_str(x.shape()),
                  shape_str(state.h.shape()));
  const std::vector<Tensor> g = split(gates_->forward(concat({x, state.h}, 1)), hidden_, 1);
  const Tensor c = add(mul(sigmoid(g[1]), state.c), mul(sigmoid(g[0]), tanh(g[2])));
  return {mul(sigmoid(g[3]), tanh(c)), c};
}

}  // namespace attnscale::models

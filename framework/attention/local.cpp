#include "framework/attention/local.h"

#include <algorithm>

#include "framework/core/ops/ops.h"

namespace attnscale::attention {

LocalAttention::LocalAttention(ScoreKind kind, int64_t query_dim, int64_t key_dim, int64_t attn_dim,
                               const LocalOptions& options, Generator& gen, DType dtype)
    : SourceAttention("local", make_score(kind, query_dim, key_dim, attn_dim, gen, dtype, "local")), options_(options) {
  ATTNSCALE_CHECK(options.window >= 1, "local", "window half-width D must be >= 1, got {}", options.window);
  ATTNSCALE_CHECK(options.sigma >= 0, "local", "sigma must be >= 0 (0 = D/2), got {}", options.sigma);
  if (options_.sigma == 0) options_.sigma = static_cast<double>(options.window) / 2.0;
  if (options.mode == LocalMode::predictive) {
    ATTNSCALE_CHECK(attn_dim > 0, "local", "local-p needs a positive hidden size for W_p, got {}", attn_dim);
    position_hidden_ =
        register_module("position_hidden", std::make_shared<nn::Linear>(query_dim, attn_dim, false, gen, dtype));
    position_out_ = register_module("position_out", std::make_shared<nn::Linear>(attn_dim, 1, false, gen, dtype));
  }
}

Tensor LocalAttention::centres(const Tensor& query, const SourceMemory& memory, int64_t step) const {
  const auto lens = memory.lengths.to_vector<int64_t>();
  const auto batch = static_cast<int64_t>(lens.size());
  std::vector<double> last(lens.size());
  for (size_t b = 0; b < lens.size(); ++b) last[b] = static_cast<double>(lens[b] - 1);
  if (options_.mode == LocalMode::monotonic) {
    for (double& p : last) p = std::min(p, static_cast<double>(step));
    return Tensor::from(last, {batch, 1}).to(query.dtype());
  }
  const Tensor gate = sigmoid(position_out_->forward(tanh(position_hidden_->forward(query))));  // [B, 1]
  return mul(gate, Tensor::from(last, {batch, 1}).to(query.dtype()));
}

AttentionRead LocalAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator&) const {
  const int64_t length = memory.states.shape()[1];
  const DType dtype = memory.states.dtype();
  const Tensor centre = centres(query, memory, step);                                        // [B, 1]
  const Tensor distance = sub(reshape(Tensor::arange(length, dtype), {1, length}), centre);  // [B, S]
  // The window edge is a hard cut: no gradient flows through which positions are inside.
  const Tensor outside = greater(abs(distance.detach()), Tensor::scalar(static_cast<double>(options_.window), dtype));
  const Tensor excluded = maximum(outside, memory.padding);
  AttentionRead read;
  read.weights = masked_softmax(score_->forward(query, memory.keys), excluded);
  if (options_.mode == LocalMode::predictive) {
    const double inv_two_var = 1.0 / (2.0 * options_.sigma * options_.sigma);
    read.weights = mul(read.weights, exp(mul(square(distance), -inv_two_var)));
  }
  read.context = read_out(read.weights, memory.states);
  return read;
}

}  // namespace attnscale::attention

#include "framework/attention/sentinel.h"

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

VisualSentinel::VisualSentinel(int64_t input_size, int64_t hidden_size, Generator& gen, DType dtype) {
  w_x_ = register_module("w_x", std::make_shared<nn::Linear>(input_size, hidden_size, true, gen, dtype));
  w_h_ = register_module("w_h", std::make_shared<nn::Linear>(hidden_size, hidden_size, false, gen, dtype));
}

Tensor VisualSentinel::forward(const Tensor& x, const Tensor& h_prev, const Tensor& cell) const {
  return mul(sigmoid(add(w_x_->forward(x), w_h_->forward(h_prev))), tanh(cell));
}

SentinelAttention::SentinelAttention(int64_t hidden, int64_t attention_dim, Generator& gen, DType dtype)
    : hidden_(hidden) {
  ATTNSCALE_CHECK(hidden > 0 && attention_dim > 0, "sentinel", "hidden ({}) and attention_dim ({}) must be positive",
                  hidden, attention_dim);
  w_v_ = register_module("w_v", std::make_shared<nn::Linear>(hidden, attention_dim, false, gen, dtype));
  w_g_ = register_module("w_g", std::make_shared<nn::Linear>(hidden, attention_dim, false, gen, dtype));
  w_s_ = register_module("w_s", std::make_shared<nn::Linear>(hidden, attention_dim, false, gen, dtype));
  w_h_ = register_module("w_h", std::make_shared<nn::Linear>(attention_dim, 1, false, gen, dtype));
}

Tensor SentinelAttention::project_regions(const Tensor& regions) const {
  ATTNSCALE_CHECK(regions.dim() == 3 && regions.shape()[2] == hidden_, "sentinel", "regions must be [B, k, {}], got {}",
                  hidden_, shape_str(regions.shape()));
  return w_v_->forward(regions);
}

SentinelAttention::Output SentinelAttention::forward(const Tensor& regions, const Tensor& projected, const Tensor& h,
                                                     const Tensor& sentinel) const {
  ATTNSCALE_CHECK(h.dim() == 2 && h.shape()[1] == hidden_ && regions.dim() == 3 && regions.shape()[0] == h.shape()[0],
                  "sentinel", "h must be [B, {}] for regions [B, k, {}], got {} and {}", hidden_, hidden_,
                  shape_str(h.shape()), shape_str(regions.shape()));
  const int64_t b = h.shape()[0];
  const Tensor gh = w_g_->forward(h);                                                  // [B, a]
  const Tensor z = squeeze(w_h_->forward(tanh(add(projected, unsqueeze(gh, 1)))), 2);  // [B, k]
  const Tensor alpha = softmax(z, -1);
  const Tensor c = squeeze(matmul(unsqueeze(alpha, 1), regions), 1);  // [B, hidden]
  if (!sentinel.defined()) return {c, alpha, Tensor::zeros({b}, h.dtype())};
  ATTNSCALE_CHECK(sentinel.shape() == h.shape(), "sentinel", "sentinel must be [B, {}] like h, got {}", hidden_,
                  shape_str(sentinel.shape()));
  const Tensor z_sentinel = w_h_->forward(tanh(add(w_s_->forward(sentinel), gh)));  // [B, 1]
  const Tensor alpha_hat = softmax(concat({z, z_sentinel}, 1), -1);                   // [B, k + 1]
  const Tensor beta = narrow(alpha_hat, 1, regions.shape()[1], 1);                    // [B, 1]
  const Tensor context = add(mul(beta, sentinel), mul(sub(Tensor::scalar(1.0, h.dtype()), beta), c));
  return {context, alpha, squeeze(beta, 1)};
}

}  // namespace attnscale::attention

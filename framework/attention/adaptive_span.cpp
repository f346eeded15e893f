#include "framework/attention/adaptive_span.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "distributed/context_parallel/halo_prefix.h"
#include "framework/core/autograd/node.h"
#include "framework/nn/rope.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {
namespace {

// clamp(u, 0, 1) whose gradient passes inside [0, 1] and, outside, only in the direction that
// leads back inside (the projected gradient of the paper's clamp after each update). Built from
// elementwise ops, so it runs on u's device.
Tensor project_unit(const Tensor& u) {
  const Tensor zero = Tensor::scalar(0.0, u.dtype()).to(u.device()), one = Tensor::scalar(1.0, u.dtype()).to(u.device());
  const Tensor y = minimum(maximum(u.detach(), zero), one);
  const Tensor saved = u.detach();
  return autograd::record(y, "project_unit", {u}, [saved, zero, one](const Tensor& g) {
    // Descent moves u by -g: below 0 only a negative g helps, above 1 only a positive one.
    const Tensor inside = mul(greater(saved, zero), less(saved, one));
    const Tensor back_up = mul(sub(one, greater(saved, zero)), less(g, zero));
    const Tensor back_down = mul(sub(one, less(saved, one)), greater(g, zero));
    return std::vector<Tensor>{mul(g, add(add(inside, back_up), back_down))};
  });
}
}  // namespace

AdaptiveSpanAttention::AdaptiveSpanAttention(const AdaptiveSpanOptions& o, Generator& gen, DType dtype)
    : options_(o) {
  ATTNSCALE_CHECK(o.n_heads > 0 && o.d_model % o.n_heads == 0, "adaptive_span",
                  "d_model ({}) not divisible by heads ({})", o.d_model, o.n_heads);
  ATTNSCALE_CHECK(o.max_span >= 1, "adaptive_span", "max_span must be >= 1, got {}", o.max_span);
  ATTNSCALE_CHECK(o.ramp > 0, "adaptive_span", "ramp must be > 0, got {}", o.ramp);
  ATTNSCALE_CHECK(o.init_span >= 0 && o.init_span <= 1, "adaptive_span",
                  "init_span is a fraction of max_span in [0, 1], got {}", o.init_span);
  ATTNSCALE_CHECK(o.penalty >= 0, "adaptive_span", "penalty must be >= 0, got {}", o.penalty);
  head_dim_ = o.d_model / o.n_heads;
  ATTNSCALE_CHECK(o.rope_theta == 0 || head_dim_ % 2 == 0, "adaptive_span",
                  "rotary embedding needs an even head dimension, got {}", head_dim_);
  const int64_t d = o.d_model;
  q_proj_ = register_module("q_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
  k_proj_ = register_module("k_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
  v_proj_ = register_module("v_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
  o_proj_ = register_module("o_proj", std::make_shared<nn::Linear>(d, d, false, gen, dtype));
  span_fraction_ = register_parameter("span", Tensor::full({o.n_heads}, o.init_span, dtype));
}

Tensor AdaptiveSpanAttention::spans_tensor() const {
  return mul(project_unit(span_fraction_), static_cast<double>(options_.max_span));
}

std::vector<double> AdaptiveSpanAttention::spans() const {
  autograd::NoGradGuard no_grad;
  return spans_tensor().to(DType::f64).to_vector<double>();
}

int64_t AdaptiveSpanAttention::window() const {
  const std::vector<double> z = spans();
  const double widest = *std::max_element(z.begin(), z.end());
  return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(options_.ramp + widest)), 1, options_.max_span);
}

Tensor AdaptiveSpanAttention::auxiliary_loss() const {
  if (options_.penalty == 0) return Tensor();
  return mul(sum(spans_tensor()), options_.penalty / static_cast<double>(options_.n_heads));
}

Tensor AdaptiveSpanAttention::attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& spans,
                                     double ramp, int64_t window, double scale) {
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "adaptive_span", "expects q, k, v as [B, H, N, D]");
  const int64_t n = q.shape()[2], w = std::clamp<int64_t>(window, 1, n);
  const kernels::Layout whole(kernels::LayoutKind::contiguous, n, 1);
  return attend_band(q, halo_prefix(k, nullptr, whole, w - 1), halo_prefix(v, nullptr, whole, w - 1), spans, ramp, w,
                     scale, 0);
}

Tensor AdaptiveSpanAttention::attend_band(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& spans,
                                          double ramp, int64_t w, double scale, int64_t first) {
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && w >= 1 && k.shape()[2] == q.shape()[2] + w - 1 &&
                      k.shape()[3] == q.shape()[3] && k.shape()[0] == q.shape()[0] && k.shape()[1] == q.shape()[1] &&
                      v.shape()[2] == k.shape()[2] && v.shape()[1] == k.shape()[1],
                  "adaptive_span", "expects q [B, H, N, D] and k, v [B, H, {} - 1 + N, D*]; got {}, {}, {}", w,
                  shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  const int64_t b = q.shape()[0], h = q.shape()[1], n = q.shape()[2], d = q.shape()[3], dv = v.shape()[3];
  ATTNSCALE_CHECK(spans.dim() == 1 && spans.numel() == h, "adaptive_span", "spans must be [{}], got {}", h,
                  shape_str(spans.shape()));
  // The band: query t scores keys t-w+1 .. t, i.e. rows t .. t+w-1 of k and v (which start w-1
  // tokens before the first query).
  auto band = [&](const Tensor& x, int64_t width) {
    std::vector<int64_t> rows(static_cast<size_t>(n * w));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < w; ++j) rows[t * w + j] = t + j;
    return reshape(index_select(x, 2, Tensor::from(rows, {n * w}).to(x.device())), {b, h, n, w, width});
  };
  const Tensor scores = mul(squeeze(matmul(unsqueeze(q, 3), transpose(band(k, d), -1, -2)), 3), scale);  // [B,H,N,w]

  // Distance of band slot j is x = w-1-j. log m_z(x) joins the scores: a_tr is then a softmax.
  std::vector<double> distance(static_cast<size_t>(w));
  for (int64_t j = 0; j < w; ++j) distance[j] = static_cast<double>(w - 1 - j);
  const Device device = q.device();
  const Tensor dist = Tensor::from(distance, {1, w}).to(q.dtype()).to(device);
  const Tensor one = Tensor::scalar(1.0, q.dtype()).to(device);
  const Tensor ramp_value = mul(add(sub(reshape(spans, {h, 1}), dist), ramp), 1.0 / ramp);  // [H, w]
  const Tensor m = sub(one, relu(sub(one, relu(ramp_value))));
  // Keys with m = 0 (beyond the span) and slots before the sequence start get -inf; log m
  // elsewhere (m is 1 at x = 0, so no row is empty).
  const Tensor zero_m = equal(m.detach(), Tensor::scalar(0.0, q.dtype()).to(device));  // 0/1, no gradient
  Tensor bias = Tensor::zeros({n, w}, q.dtype());  // filled on the host, then moved
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "adaptive_span", [&] {
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < w; ++j)
        if (first + t - (w - 1 - j) < 0) bias.data<scalar_t>()[t * w + j] = -std::numeric_limits<scalar_t>::infinity();
  });
  const Tensor log_m = reshape(log(where(zero_m, one, m)), {1, h, 1, w});
  const Tensor beyond = reshape(masked_fill(Tensor::zeros({h, w}, q.dtype(), device), zero_m, -INFINITY), {1, h, 1, w});
  const Tensor weights = softmax(add(add(add(scores, log_m), beyond), bias.to(device)), -1);  // [B,H,N,w]
  return reshape(matmul(unsqueeze(weights, 3), band(v, dv)), {b, h, n, dv});
}

Tensor AdaptiveSpanAttention::forward(const Tensor& x, const Tensor& positions,
                                      std::span<const int32_t> key_valid) const {
  ATTNSCALE_CHECK(key_valid.empty(), "adaptive_span", "key padding is not supported (a causal language-model layer)");
  ATTNSCALE_CHECK(x.dim() == 3 && x.shape()[2] == options_.d_model, "adaptive_span", "x must be [B, N, {}], got {}",
                  options_.d_model, shape_str(x.shape()));
  const int64_t b = x.shape()[0], n = x.shape()[1], h = options_.n_heads;
  const std::vector<int64_t> pos = positions.to_vector<int64_t>();
  ATTNSCALE_CHECK(static_cast<int64_t>(pos.size()) == n, "adaptive_span", "positions must be [{}], got {}", n,
                  shape_str(positions.shape()));
  for (int64_t i = 1; i < n; ++i)
    ATTNSCALE_CHECK(pos[i] == pos[0] + i, "adaptive_span", "positions must be consecutive; position {} is {} after {}",
                    i, pos[i], pos[i - 1]);
  auto heads = [&](const Tensor& t) { return transpose(reshape(t, {b, n, h, head_dim_}), 1, 2); };
  Tensor q = heads(q_proj_->forward(x)), k = heads(k_proj_->forward(x));
  if (options_.rope_theta > 0) {
    q = nn::apply_rope(q, positions, options_.rope_theta);
    k = nn::apply_rope(k, positions, options_.rope_theta);
  }
  const double scale = kernels::score_scale(options_.scale, head_dim_);
  // Every rank of a cp group uses the same band width (the spans are the same everywhere), so the
  // halo plans agree; one rank clamps it to its sequence.
  const auto& cp = options_.context_parallel;
  Communicator* group = cp && cp->cp && cp->cp->size() > 1 ? cp->cp : nullptr;
  const kernels::Layout layout = group ? cp->layout : kernels::Layout(kernels::LayoutKind::contiguous, n, 1);
  const int64_t w = std::clamp<int64_t>(window(), 1, layout.length);
  const Tensor v = heads(v_proj_->forward(x));
  const Tensor out = attend_band(q, halo_prefix(k, group, layout, w - 1), halo_prefix(v, group, layout, w - 1),
                                 spans_tensor(), options_.ramp, w, scale, pos[0]);
  return o_proj_->forward(reshape(transpose(out, 1, 2), {b, n, options_.d_model}));
}

}  // namespace attnscale::attention

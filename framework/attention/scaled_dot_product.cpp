#include "framework/attention/scaled_dot_product.h"

#include <cmath>
#include <limits>
#include <vector>

#include "framework/attention/mask_builder.h"
#include "framework/attention/scaled_dot.h"
#include "framework/core/ops/ops.h"
#include "framework/core/ops/sparsemax.h"

namespace attnscale::attention {
namespace {

kernels::Positions positions_or_default(const kernels::Positions& given, int64_t count) {
  return given.size() > 0 ? given : kernels::Positions::contiguous(0, count);
}

}  // namespace

Tensor attention_bias(const AttentionSpec& spec, int64_t batch, int64_t n, int64_t m, DType dtype) {
  const kernels::Positions q_pos = positions_or_default(spec.q_positions, n);
  const kernels::Positions k_pos = positions_or_default(spec.k_positions, m);
  const bool per_token = !spec.q_segment.empty() || !spec.k_valid.empty();
  if (!per_token) return spec.mask.is_none() ? Tensor() : mask_bias(spec.mask, q_pos, k_pos, dtype);

  kernels::Mask mask = spec.mask;
  mask.q_segment = spec.q_segment;
  mask.k_segment = spec.k_segment;
  mask.k_valid = spec.k_valid;
  kernels::validate_mask(mask, batch, n, m);
  std::vector<int64_t> qp(n), kp(m);
  q_pos.fill(qp);
  k_pos.fill(kp);
  Tensor bias = Tensor::zeros({batch, 1, n, m}, dtype);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "attention_bias", [&] {
    scalar_t* out = bias.data<scalar_t>();
    for (int64_t b = 0; b < batch; ++b) {
      const kernels::MaskView view(mask, b, qp, kp);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j)
          if (!view.allowed(i, j)) out[(b * n + i) * m + j] = -std::numeric_limits<scalar_t>::infinity();
    }
  });
  return bias;
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec,
                                    const ScaledDotProductOptions& options) {
  const bool softmax = options.normalizer == kernels::Normalizer::softmax;
  if (options.fused) return softmax ? fused_attention(q, k, v, spec) : sparsemax_attention(q, k, v, spec);

  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "scaled_dot_product",
                  "expects q, k, v as [B, H, N, D]; got {}, {}, {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  const double scale = spec.scale > 0 ? spec.scale : 1.0 / std::sqrt(static_cast<double>(q.shape()[3]));
  const Tensor bias = attention_bias(spec, q.shape()[0], q.shape()[2], k.shape()[2], q.dtype());
  if (softmax) return scaled_dot_attention_plain(q, k, v, bias, scale);
  const int64_t hq = q.shape()[1];
  Tensor scores = mul(matmul(q, transpose(repeat_kv_heads(k, hq), -1, -2)), scale);
  if (bias.defined()) scores = add(scores, bias);
  return matmul(sparsemax(scores, -1), repeat_kv_heads(v, hq));
}

}  // namespace attnscale::attention

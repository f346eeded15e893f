#include "framework/attention/scaled_dot.h"

#include "framework/core/ops/ops.h"

namespace attnscale::attention {

Tensor repeat_kv_heads(const Tensor& kv, int64_t q_heads) {
  const int64_t b = kv.shape()[0], hkv = kv.shape()[1], m = kv.shape()[2], d = kv.shape()[3];
  ATTNSCALE_CHECK(q_heads % hkv == 0, "attention", "query heads ({}) not divisible by key/value heads ({})", q_heads,
                  hkv);
  if (q_heads == hkv) return kv;
  const int64_t group = q_heads / hkv;
  return reshape(expand(unsqueeze(kv, 2), {b, hkv, group, m, d}), {b, q_heads, m, d});
}

Tensor scaled_dot_attention_plain(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, double scale) {
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention",
                  "expects q, k, v as [B, H, N, D]; got {}, {}, {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  ATTNSCALE_CHECK(q.shape()[3] == k.shape()[3] && k.shape()[2] == v.shape()[2] && k.shape()[1] == v.shape()[1],
                  "attention", "incompatible q {}, k {}, v {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  const int64_t hq = q.shape()[1];
  const Tensor keys = repeat_kv_heads(k, hq), values = repeat_kv_heads(v, hq);
  Tensor scores = mul(matmul(q, transpose(keys, -1, -2)), scale);
  if (bias.defined()) scores = add(scores, bias);
  return matmul(softmax(scores, -1), values);
}

}  // namespace attnscale::attention

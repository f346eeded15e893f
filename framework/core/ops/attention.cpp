#include "framework/core/ops/attention.h"

#include <cmath>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"

namespace attnscale {

kernels::AttentionParams attention_params(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
  ops_detail::check_cpu("attention", {q, k, v});
  ATTNSCALE_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention",
                  "expects q, k, v as [B, H, N, D]; got {}, {}, {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  ATTNSCALE_CHECK(q.dtype() == k.dtype() && k.dtype() == v.dtype(), "attention", "q, k, v dtypes differ");
  kernels::AttentionShape shape{q.shape()[0], q.shape()[1], k.shape()[1], q.shape()[2],
                                k.shape()[2], q.shape()[3], v.shape()[3]};
  ATTNSCALE_CHECK(k.shape()[0] == shape.batch && v.shape()[0] == shape.batch && k.shape()[3] == shape.head_dim &&
                      v.shape()[1] == shape.kv_heads && v.shape()[2] == shape.k_len,
                  "attention", "incompatible q {}, k {}, v {}", shape_str(q.shape()), shape_str(k.shape()),
                  shape_str(v.shape()));
  ATTNSCALE_CHECK(shape.kv_heads > 0 && shape.q_heads % shape.kv_heads == 0, "attention",
                  "query heads ({}) not divisible by key/value heads ({})", shape.q_heads, shape.kv_heads);
  kernels::AttentionParams p = kernels::default_attention_params(shape);
  p.scale = kernels::score_scale(spec.scale, shape.head_dim);
  p.mask = spec.mask;
  p.mask.q_segment = spec.q_segment;
  p.mask.k_segment = spec.k_segment;
  p.mask.k_valid = spec.k_valid;
  if (spec.q_positions.size() > 0) p.q_positions = spec.q_positions;
  if (spec.k_positions.size() > 0) p.k_positions = spec.k_positions;
  ATTNSCALE_CHECK(p.q_positions.size() == shape.q_len && p.k_positions.size() == shape.k_len, "attention",
                  "{} query / {} key positions given for N = {}, M = {}", p.q_positions.size(),
                  p.k_positions.size(), shape.q_len, shape.k_len);
  kernels::validate_mask(p.mask, shape.batch, shape.q_len, shape.k_len);
  return p;
}

std::pair<Tensor, Tensor> fused_attention_with_lse(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                                   const AttentionSpec& spec_in) {
  auto spec = std::make_shared<const AttentionSpec>(spec_in);
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const kernels::AttentionParams params = attention_params(q, k, v, *spec);
  const auto& s = params.shape;
  Tensor out = Tensor::empty({s.batch, s.q_heads, s.q_len, s.value_dim}, q.dtype());
  Tensor lse = Tensor::empty({s.batch, s.q_heads, s.q_len}, q.dtype());
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "attention", [&] {
    kernels::attention_forward<scalar_t>(
        params, {{q.data<scalar_t>(), size_t(s.q_size())}, {k.data<scalar_t>(), size_t(s.k_size())},
                 {v.data<scalar_t>(), size_t(s.v_size())}, {out.data<scalar_t>(), size_t(s.out_size())},
                 {lse.data<scalar_t>(), size_t(s.rows())}});
  });
  const Tensor sq = q.detach(), sk = k.detach(), sv = v.detach(), sout = out.detach(), slse = lse.detach();
  out = autograd::record(out, "attention", {q, k, v}, [spec, sq, sk, sv, sout, slse](const Tensor& g) {
    const kernels::AttentionParams p = attention_params(sq, sk, sv, *spec);
    const auto& s = p.shape;
    const Tensor dout = g.contiguous();
    Tensor dq = Tensor::empty(sq.shape(), sq.dtype()), dk = Tensor::empty(sk.shape(), sk.dtype()),
           dv = Tensor::empty(sv.shape(), sv.dtype()), delta = Tensor::empty(slse.shape(), slse.dtype());
    ATTNSCALE_DISPATCH_FLOAT(sq.dtype(), "attention", [&] {
      using span_c = std::span<const scalar_t>;
      using span_m = std::span<scalar_t>;
      kernels::attention_delta<scalar_t>(span_c(dout.data<scalar_t>(), s.out_size()),
                                         span_c(sout.data<scalar_t>(), s.out_size()), s.value_dim,
                                         span_m(delta.data<scalar_t>(), s.rows()));
      kernels::attention_backward<scalar_t>(
          p, {span_c(sq.data<scalar_t>(), s.q_size()), span_c(sk.data<scalar_t>(), s.k_size()),
              span_c(sv.data<scalar_t>(), s.v_size()), span_c(dout.data<scalar_t>(), s.out_size()),
              span_c(slse.data<scalar_t>(), s.rows()), span_c(delta.data<scalar_t>(), s.rows()),
              span_m(dq.data<scalar_t>(), s.q_size()), span_m(dk.data<scalar_t>(), s.k_size()),
              span_m(dv.data<scalar_t>(), s.v_size())});
    });
    return std::vector<Tensor>{dq, dk, dv};
  });
  return {out, lse};
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
  return fused_attention_with_lse(q, k, v, spec).first;
}

}  // namespace attnscale

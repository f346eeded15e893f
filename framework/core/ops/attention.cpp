#include "framework/core/ops/attention.h"

#include <cmath>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/attention_mask_arrays.h"
#include "framework/core/ops/op_helpers.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/attention.h"
#endif

namespace attnscale {

kernels::AttentionParams attention_params(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
  ops_detail::common_device("attention", {q, k, v});
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
  if (ops_detail::is_bf16(q_in)) {  // float32 inside; the output rounded to bf16, lse stays float32
    auto [out, lse] = fused_attention_with_lse(ops_detail::f32_input(q_in), ops_detail::f32_input(k_in),
                                               ops_detail::f32_input(v_in), spec_in);
    return {out.to(DType::bf16), lse};
  }
  auto spec = std::make_shared<const AttentionSpec>(spec_in);
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const Device device = q.device();
  auto arrays = std::make_shared<const ops_detail::MaskArrays>(*spec, device);
  const kernels::AttentionParams params = arrays->point(attention_params(q, k, v, *spec));
  const auto& s = params.shape;
  Tensor out = Tensor::empty({s.batch, s.q_heads, s.q_len, s.value_dim}, q.dtype(), device);
  Tensor lse = Tensor::empty({s.batch, s.q_heads, s.q_len}, q.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "attention", [&] {
    const kernels::AttentionForwardBuffers<scalar_t> io{
        {q.device_data<scalar_t>(), size_t(s.q_size())}, {k.device_data<scalar_t>(), size_t(s.k_size())},
        {v.device_data<scalar_t>(), size_t(s.v_size())}, {out.device_data<scalar_t>(), size_t(s.out_size())},
        {lse.device_data<scalar_t>(), size_t(s.rows())}};
    ATTNSCALE_ON_CUDA(device, cuda::attention_forward<scalar_t>(params, io, cuda::compute_stream(device)));
    kernels::attention_forward<scalar_t>(params, io);
  });
  const Tensor sq = q.detach(), sk = k.detach(), sv = v.detach(), sout = out.detach(), slse = lse.detach();
  out = autograd::record(out, "attention", {q, k, v}, [spec, arrays, sq, sk, sv, sout, slse](const Tensor& g) {
    const kernels::AttentionParams p = arrays->point(attention_params(sq, sk, sv, *spec));
    const auto& s = p.shape;
    const Tensor dout = g.contiguous();
    const Device device = sq.device();
    Tensor dq = Tensor::empty(sq.shape(), sq.dtype(), device), dk = Tensor::empty(sk.shape(), sk.dtype(), device),
           dv = Tensor::empty(sv.shape(), sv.dtype(), device),
           delta = Tensor::empty(slse.shape(), slse.dtype(), device);
    ATTNSCALE_DISPATCH_FLOAT(sq.dtype(), "attention", [&] {
      using span_c = std::span<const scalar_t>;
      using span_m = std::span<scalar_t>;
      const span_c dout_rows(dout.device_data<scalar_t>(), s.out_size()), out_rows(sout.device_data<scalar_t>(), s.out_size());
      const span_m delta_rows(delta.device_data<scalar_t>(), s.rows());
      const kernels::AttentionBackwardBuffers<scalar_t> io{
          span_c(sq.device_data<scalar_t>(), s.q_size()), span_c(sk.device_data<scalar_t>(), s.k_size()),
          span_c(sv.device_data<scalar_t>(), s.v_size()), dout_rows, span_c(slse.device_data<scalar_t>(), s.rows()),
          delta_rows, span_m(dq.device_data<scalar_t>(), s.q_size()), span_m(dk.device_data<scalar_t>(), s.k_size()),
          span_m(dv.device_data<scalar_t>(), s.v_size())};
      ATTNSCALE_ON_CUDA(device, {
        cuda::attention_delta<scalar_t>(dout_rows, out_rows, s.value_dim, delta_rows, cuda::compute_stream(device));
        cuda::attention_backward<scalar_t>(p, io, cuda::compute_stream(device));
      });
      kernels::attention_delta<scalar_t>(dout_rows, out_rows, s.value_dim, delta_rows);
      kernels::attention_backward<scalar_t>(p, io);
    });
    return std::vector<Tensor>{dq, dk, dv};
  });
  return {out, lse};
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
  return fused_attention_with_lse(q, k, v, spec).first;
}

}  // namespace attnscale

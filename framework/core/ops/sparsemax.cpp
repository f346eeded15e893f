#include "framework/core/ops/sparsemax.h"

#include <memory>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/attention_mask_arrays.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/general_attention.h"
#include "kernels/score.h"
#include "kernels/sparsemax.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/sparsemax.h"
#include "kernels/cuda/sparsemax_attention.h"
#endif

namespace attnscale {
namespace {

// Rows of length `len` of contiguous x: p = sparsemax(row). Threads over rows; each thread owns
// its sort buffer.
template <typename T>
void sparsemax_rows(const T* x, T* p, int64_t rows, int64_t len) {
#pragma omp parallel if (rows * len > (1 << 14))
  {
    std::vector<T> scratch(static_cast<size_t>(len));
#pragma omp for
    for (int64_t r = 0; r < rows; ++r)
      kernels::sparsemax_forward<T>(std::span<const T>(x + r * len, len), std::span<T>(p + r * len, len), scratch);
  }
}

template <typename T>
void sparsemax_rows_backward(const T* p, const T* dp, T* dz, int64_t rows, int64_t len) {
#pragma omp parallel for if (rows * len > (1 << 14))
  for (int64_t r = 0; r < rows; ++r)
    kernels::sparsemax_backward<T>(std::span<const T>(p + r * len, len), std::span<const T>(dp + r * len, len),
                                   std::span<T>(dz + r * len, len));
}

// Sparsemax over the last axis.
Tensor sparsemax_last(const Tensor& x_in) {
  const Device device = ops_detail::common_device("sparsemax", {x_in});
  const Tensor x = x_in.contiguous();
  const int64_t len = x.shape().back(), rows = len == 0 ? 0 : x.numel() / len;
  Tensor p = Tensor::empty(x.shape(), x.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), "sparsemax", [&] {
    ATTNSCALE_ON_CUDA(device, cuda::sparsemax_forward<scalar_t>(rows, len, x.device_data<scalar_t>(),
                                                                p.device_data<scalar_t>(), cuda::compute_stream(device)));
    sparsemax_rows(x.data<scalar_t>(), p.data<scalar_t>(), rows, len);
  });
  const Tensor saved = p.detach();
  return autograd::record(p, "sparsemax", {x}, [saved, rows, len](const Tensor& g) {
    const Tensor dp = g.contiguous();
    const Device device = ops_detail::common_device("sparsemax", {saved, dp});
    Tensor dz = Tensor::empty(saved.shape(), saved.dtype(), device);
    ATTNSCALE_DISPATCH_FLOAT(saved.dtype(), "sparsemax", [&] {
      ATTNSCALE_ON_CUDA(device, cuda::sparsemax_backward<scalar_t>(rows, len, saved.device_data<scalar_t>(),
                                                                   dp.device_data<scalar_t>(),
                                                                   dz.device_data<scalar_t>(),
                                                                   cuda::compute_stream(device)));
      sparsemax_rows_backward(saved.data<scalar_t>(), dp.data<scalar_t>(), dz.data<scalar_t>(), rows, len);
    });
    return std::vector<Tensor>{dz};
  });
}

}  // namespace

Tensor sparsemax(const Tensor& x, int axis) {
  ATTNSCALE_CHECK(x.dim() >= 1, "sparsemax", "needs at least one axis, got a scalar");
  const int last = static_cast<int>(x.dim()) - 1;
  const int a = axis < 0 ? axis + last + 1 : axis;
  ATTNSCALE_CHECK(a >= 0 && a <= last, "sparsemax", "axis {} out of range for {}", axis, shape_str(x.shape()));
  if (a == last) return sparsemax_last(x);
  return transpose(sparsemax_last(transpose(x, a, last)), a, last);
}

Tensor sparsemax_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const AttentionSpec& spec_in) {
  auto spec = std::make_shared<const AttentionSpec>(spec_in);
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const Device device = ops_detail::common_device("sparsemax_attention", {q, k, v});
  auto arrays = std::make_shared<const ops_detail::MaskArrays>(*spec, device);
  const kernels::AttentionParams params = arrays->point(attention_params(q, k, v, *spec));
  const auto& s = params.shape;
  Tensor out = Tensor::empty({s.batch, s.q_heads, s.q_len, s.value_dim}, q.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(q.dtype(), "sparsemax_attention", [&] {
    const kernels::AttentionForwardBuffers<scalar_t> io{
        {q.device_data<scalar_t>(), size_t(s.q_size())}, {k.device_data<scalar_t>(), size_t(s.k_size())},
        {v.device_data<scalar_t>(), size_t(s.v_size())}, {out.device_data<scalar_t>(), size_t(s.out_size())}, {}};
    ATTNSCALE_ON_CUDA(device, cuda::sparsemax_attention_forward<scalar_t>(params, io, cuda::compute_stream(device)));
    const kernels::DotScore<scalar_t> score(s.head_dim, params.scale);
    kernels::general_attention_forward<scalar_t>(params, score, kernels::Normalizer::sparsemax, io);
  });
  const Tensor sq = q.detach(), sk = k.detach(), sv = v.detach();
  return autograd::record(out, "sparsemax_attention", {q, k, v}, [spec, arrays, sq, sk, sv](const Tensor& g) {
    const kernels::AttentionParams p = arrays->point(attention_params(sq, sk, sv, *spec));
    const auto& s = p.shape;
    const Tensor dout = g.contiguous();
    const Device device = sq.device();
    Tensor dq = Tensor::empty(sq.shape(), sq.dtype(), device), dk = Tensor::empty(sk.shape(), sk.dtype(), device),
           dv = Tensor::empty(sv.shape(), sv.dtype(), device);
    ATTNSCALE_DISPATCH_FLOAT(sq.dtype(), "sparsemax_attention", [&] {
      using span_c = std::span<const scalar_t>;
      using span_m = std::span<scalar_t>;
      const kernels::AttentionBackwardBuffers<scalar_t> io{
          span_c(sq.device_data<scalar_t>(), s.q_size()), span_c(sk.device_data<scalar_t>(), s.k_size()),
          span_c(sv.device_data<scalar_t>(), s.v_size()), span_c(dout.device_data<scalar_t>(), s.out_size()), {}, {},
          span_m(dq.device_data<scalar_t>(), s.q_size()), span_m(dk.device_data<scalar_t>(), s.k_size()),
          span_m(dv.device_data<scalar_t>(), s.v_size())};
      ATTNSCALE_ON_CUDA(device, cuda::sparsemax_attention_backward<scalar_t>(p, io, cuda::compute_stream(device)));
      const kernels::DotScore<scalar_t> score(s.head_dim, p.scale);
      kernels::general_attention_backward<scalar_t>(p, score, kernels::Normalizer::sparsemax, io);
    });
    return std::vector<Tensor>{dq, dk, dv};
  });
}

}  // namespace attnscale

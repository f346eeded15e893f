#include "framework/core/ops/norm.h"

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/norm.h"
#endif

namespace attnscale {
namespace {

// gamma (and beta, when defined) must be [D] of x's dtype, where D is x's last axis.
void check_norm_args(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  ATTNSCALE_CHECK(x.dim() >= 1, op, "needs at least one axis, got a scalar");
  const int64_t dim = x.shape().back();
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    ATTNSCALE_CHECK(p->shape() == Shape{dim} && p->dtype() == x.dtype(), op,
                    "weight and bias must be {} [{}] like the input's last axis, got {} {}", dtype_name(x.dtype()), dim,
                    dtype_name(p->dtype()), shape_str(p->shape()));
  }
}

#if ATTNSCALE_HAVE_CUDA
// The fused kernels: one launch forward, one backward (dx, then dgamma and dbeta by columns).
// beta undefined: RMSNorm.
Tensor norm_on_cuda(const char* op, const Tensor& x, const Tensor& gamma_in, const Tensor& beta_in, double eps) {
  const bool centered = beta_in.defined();
  const Device device = x.device();
  const Tensor xc = x.contiguous(), gamma = gamma_in.contiguous(), beta = centered ? beta_in.contiguous() : Tensor();
  const int64_t dim = x.shape().back(), rows = dim == 0 ? 0 : x.numel() / dim;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
  Tensor mean = centered ? Tensor::empty({rows}, x.dtype(), device) : Tensor();
  Tensor rstd = Tensor::empty({rows}, x.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), op, [&] {
    if (centered)
      cuda::layer_norm_forward<scalar_t>(rows, dim, xc.device_data<scalar_t>(), gamma.device_data<scalar_t>(),
                                         beta.device_data<scalar_t>(), eps, y.device_data<scalar_t>(),
                                         mean.device_data<scalar_t>(), rstd.device_data<scalar_t>(),
                                         cuda::compute_stream(device));
    else
      cuda::rms_norm_forward<scalar_t>(rows, dim, xc.device_data<scalar_t>(), gamma.device_data<scalar_t>(), eps,
                                       y.device_data<scalar_t>(), rstd.device_data<scalar_t>(),
                                       cuda::compute_stream(device));
  });
  const Tensor saved_x = xc.detach(), saved_gamma = gamma.detach();
  std::vector<Tensor> inputs{x, gamma_in};
  if (centered) inputs.push_back(beta_in);
  return autograd::record(y, op, inputs, [=](const Tensor& g) {
    const Tensor dy = g.contiguous();
    ops_detail::common_device(op, {dy, saved_x});
    Tensor dx = Tensor::empty(saved_x.shape(), dy.dtype(), device);
    Tensor dgamma = Tensor::empty({dim}, dy.dtype(), device);
    Tensor dbeta = centered ? Tensor::empty({dim}, dy.dtype(), device) : Tensor();
    ATTNSCALE_DISPATCH_FLOAT(dy.dtype(), op, [&] {
      if (centered)
        cuda::layer_norm_backward<scalar_t>(rows, dim, saved_x.device_data<scalar_t>(),
                                            saved_gamma.device_data<scalar_t>(), mean.device_data<scalar_t>(),
                                            rstd.device_data<scalar_t>(), dy.device_data<scalar_t>(),
                                            dx.device_data<scalar_t>(), dgamma.device_data<scalar_t>(),
                                            dbeta.device_data<scalar_t>(), cuda::compute_stream(device));
      else
        cuda::rms_norm_backward<scalar_t>(rows, dim, saved_x.device_data<scalar_t>(),
                                          saved_gamma.device_data<scalar_t>(), rstd.device_data<scalar_t>(),
                                          dy.device_data<scalar_t>(), dx.device_data<scalar_t>(),
                                          dgamma.device_data<scalar_t>(), cuda::compute_stream(device));
    });
    std::vector<Tensor> grads{dx, dgamma};
    if (centered) grads.push_back(dbeta);
    return grads;
  });
}
#endif

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  if (ops_detail::is_bf16(x))  // statistics in float32
    return ops_detail::bf16_via_f32(
        [eps](const Tensor& xf, const Tensor& g, const Tensor& b) { return layer_norm(xf, g, b, eps); }, x, gamma, beta);
  [[maybe_unused]] const Device device = ops_detail::common_device("layer_norm", {x, gamma, beta});
  ATTNSCALE_CHECK(beta.defined(), "layer_norm", "needs a bias (beta)");
  check_norm_args("layer_norm", x, gamma, beta);
#if ATTNSCALE_HAVE_CUDA
  if (device.is_cuda()) return norm_on_cuda("layer_norm", x, gamma, beta, eps);
#endif
  const Tensor centered = sub(x, mean(x, {-1}, true));
  const Tensor inv_std = rsqrt(add(mean(square(centered), {-1}, true), eps));
  return add(mul(mul(centered, inv_std), gamma), beta);
}

Tensor rms_norm(const Tensor& x, const Tensor& gamma, double eps) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([eps](const Tensor& xf, const Tensor& g) { return rms_norm(xf, g, eps); }, x, gamma);
  [[maybe_unused]] const Device device = ops_detail::common_device("rms_norm", {x, gamma});
  check_norm_args("rms_norm", x, gamma, Tensor());
#if ATTNSCALE_HAVE_CUDA
  if (device.is_cuda()) return norm_on_cuda("rms_norm", x, gamma, Tensor(), eps);
#endif
  return mul(mul(x, rsqrt(add(mean(square(x), {-1}, true), eps))), gamma);
}

}  // namespace attnscale

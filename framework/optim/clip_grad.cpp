#include "framework/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/non_finite.h"
#include "framework/core/ops/op_helpers.h"
#include "kernels/elementwise.h"
#include "kernels/optim.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/optim.h"
#endif

namespace attnscale {
namespace {
constexpr const char* kWhere = "clip_grad_norm";

#if ATTNSCALE_HAVE_CUDA
// The sum of squares of the gradients on one GPU: each adds into a total that stays there, read
// once at the end (one synchronisation per step, not one per parameter).
class DeviceSumOfSquares {
 public:
  explicit DeviceSumOfSquares(Device device)
      : device_(device),
        workspace_(Tensor::empty({cuda::kSumOfSquaresPartials}, DType::f64, device)),
        total_(Tensor::zeros({}, DType::f64, device)) {}
  Device device() const { return device_; }
  void add(const Tensor& g) {
    ATTNSCALE_DISPATCH_FLOAT(g.dtype(), kWhere, [&] {
      cuda::sum_of_squares<scalar_t>(g.numel(), g.device_data<scalar_t>(), workspace_.device_data<double>(),
                                     total_.device_data<double>(), cuda::compute_stream(device_));
    });
  }
  double read() const { return total_.item(); }

 private:
  Device device_;
  Tensor workspace_, total_;
};
#endif

[[noreturn]] void throw_non_finite(std::span<const NamedTensor> params, double norm) {
  NamedTensors grads;
  for (const NamedTensor& p : params)
    if (p.tensor.grad().defined()) grads.push_back({p.name, p.tensor.grad()});
  if (const auto found = first_non_finite(grads))
    throw NonFiniteGradient(fmt::format("[{}] the gradient norm is {}: the gradient of parameter {}", kWhere, norm,
                                        describe(*found)),
                            found->tensor);
  throw NonFiniteGradient(fmt::format("[{}] the gradient norm is {} although every gradient on this rank is finite "
                                      "(the sum of squares overflowed, or another rank holds a non-finite value)",
                                      kWhere, norm),
                          "");
}

void scale_grads(std::span<const NamedTensor> params, double factor) {
  autograd::NoGradGuard no_grad;
  for (const NamedTensor& p : params) {
    Tensor grad = p.tensor.grad();
    if (!grad.defined()) continue;
    if (!grad.is_contiguous()) {  // a view we cannot scale as a flat array: replace it by a scaled copy
      p.tensor.set_grad(mul(grad, factor));
      continue;
    }
    ATTNSCALE_DISPATCH_FLOAT(grad.dtype(), kWhere, [&] {
      ATTNSCALE_ON_CUDA(grad.device(), cuda::binary_scalar<scalar_t>(
                                           kernels::BinaryOp::mul, grad.numel(), grad.device_data<scalar_t>(),
                                           static_cast<scalar_t>(factor), grad.device_data<scalar_t>(),
                                           cuda::compute_stream(grad.device())));
      scalar_t* g = grad.data<scalar_t>();
      kernels::binary_scalar<scalar_t>(kernels::BinaryOp::mul, grad.numel(), g, static_cast<scalar_t>(factor), g);
    });
  }
}

double clip(std::span<const NamedTensor> params, double max_norm, const std::function<double(double)>* reduce) {
  ATTNSCALE_CHECK(max_norm >= 0 && std::isfinite(max_norm), kWhere, "max_norm = {} must be finite and >= 0 (0 = off)",
                  max_norm);
  const double local = grad_sum_of_squares(params);
  const double norm = std::sqrt(reduce ? (*reduce)(local) : local);
  if (!std::isfinite(norm)) throw_non_finite(params, norm);
  // PyTorch's coefficient, including its 1e-6 guard; a coefficient >= 1 leaves the gradients as they are.
  const double coefficient = max_norm / (norm + 1e-6);
  if (max_norm > 0 && coefficient < 1) scale_grads(params, coefficient);
  return norm;
}
}  // namespace

double grad_sum_of_squares(std::span<const NamedTensor> params) {
  double total = 0;
#if ATTNSCALE_HAVE_CUDA
  std::vector<DeviceSumOfSquares> on_gpus;
#endif
  for (const NamedTensor& p : params) {
    const Tensor grad = p.tensor.grad();
    if (!grad.defined()) continue;
    const Tensor g = grad.contiguous();
    if (!g.device().is_cpu()) {
#if ATTNSCALE_HAVE_CUDA
      auto it = std::find_if(on_gpus.begin(), on_gpus.end(), [&](const auto& s) { return s.device() == g.device(); });
      if (it == on_gpus.end()) it = on_gpus.emplace(on_gpus.end(), g.device());
      it->add(g);
#endif
      continue;
    }
    total += ATTNSCALE_DISPATCH_FLOAT(g.dtype(), kWhere,
                                      [&] { return kernels::sum_of_squares<scalar_t>(g.numel(), g.data<scalar_t>()); });
  }
#if ATTNSCALE_HAVE_CUDA
  for (const DeviceSumOfSquares& s : on_gpus) total += s.read();
#endif
  return total;
}

double clip_grad_norm(std::span<const NamedTensor> params, double max_norm) { return clip(params, max_norm, nullptr); }

double clip_grad_norm(std::span<const NamedTensor> params, double max_norm,
                      const std::function<double(double)>& sum_across_ranks) {
  return clip(params, max_norm, &sum_across_ranks);
}

}  // namespace attnscale

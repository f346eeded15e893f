#include "framework/optim/adam.h"

#include <limits>

#include "framework/core/ops/op_helpers.h"
#include "kernels/optim.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace attnscale {
namespace {
const char* adam_name(bool decoupled) { return decoupled ? "adamw" : "adam"; }

const AdamOptions& checked(const AdamOptions& o, bool decoupled) {
  const char* where = adam_name(decoupled);
  check_hyperparameter(where, "beta1", o.beta1, 0, 1, /*high_inclusive=*/false);
  check_hyperparameter(where, "beta2", o.beta2, 0, 1, /*high_inclusive=*/false);
  check_hyperparameter(where, "eps", o.eps, 0, std::numeric_limits<double>::max());
  if (o.weight_decay)
    check_hyperparameter(where, "weight_decay", *o.weight_decay, 0, std::numeric_limits<double>::max());
  return o;
}
}  // namespace

Adam::Adam(std::vector<NamedTensor> params, const AdamOptions& options) : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<NamedTensor> params, const AdamOptions& options, bool decoupled_weight_decay)
    : Optimizer(std::move(params), checked(options, decoupled_weight_decay).lr, adam_name(decoupled_weight_decay),
                "adam", {"m", "v"}),
      beta1_(options.beta1),
      beta2_(options.beta2),
      eps_(options.eps),
      weight_decay_(options.weight_decay.value_or(decoupled_weight_decay ? 1e-2 : 0.0)),
      decoupled_(decoupled_weight_decay) {}

void Adam::update(size_t index, const Tensor& grad, int64_t step, std::span<Tensor> buffers) {
  const kernels::AdamStep s{.lr = lr(),
                            .beta1 = beta1_,
                            .beta2 = beta2_,
                            .eps = eps_,
                            .weight_decay = weight_decay_,
                            .decoupled_weight_decay = decoupled_,
                            .step = step};
  Tensor param = params()[index].tensor;
  ATTNSCALE_DISPATCH_FLOAT(param.dtype(), name().c_str(), [&] {
    ATTNSCALE_ON_CUDA(param.device(), cuda::adam_update<scalar_t>(
                                          param.numel(), param.device_data<scalar_t>(), grad.device_data<scalar_t>(),
                                          buffers[0].device_data<scalar_t>(), buffers[1].device_data<scalar_t>(), s,
                                          cuda::compute_stream(param.device())));
    kernels::adam_update<scalar_t>(param.numel(), param.data<scalar_t>(), grad.data<scalar_t>(),
                                   buffers[0].data<scalar_t>(), buffers[1].data<scalar_t>(), s);
  });
}

AdamW::AdamW(std::vector<NamedTensor> params, const AdamOptions& options) : Adam(std::move(params), options, true) {}

}  // namespace attnscale

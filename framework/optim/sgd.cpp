#include "framework/optim/sgd.h"

#include <limits>

#include "framework/core/ops/op_helpers.h"
#include "kernels/optim.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/optim.h"
#endif

namespace attnscale {
namespace {
std::vector<std::string> sgd_slots(const SgdOptions& o) {
  return o.momentum != 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
}

const SgdOptions& checked(const SgdOptions& o) {
  constexpr double kHuge = std::numeric_limits<double>::max();
  check_hyperparameter("sgd", "momentum", o.momentum, 0, kHuge);
  check_hyperparameter("sgd", "dampening", o.dampening, 0, 1);
  check_hyperparameter("sgd", "weight_decay", o.weight_decay, 0, kHuge);
  ATTNSCALE_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "sgd",
                  "nesterov momentum needs momentum > 0 and dampening = 0 (got momentum = {}, dampening = {})",
                  o.momentum, o.dampening);
  return o;
}
}  // namespace

Sgd::Sgd(std::vector<NamedTensor> params, const SgdOptions& options)
    : Optimizer(std::move(params), options.lr, "sgd", "sgd", sgd_slots(checked(options))), options_(options) {}

void Sgd::update(size_t index, const Tensor& grad, int64_t step, std::span<Tensor> buffers) {
  const kernels::SgdStep s{.lr = lr(),
                           .momentum = options_.momentum,
                           .dampening = options_.dampening,
                           .weight_decay = options_.weight_decay,
                           .nesterov = options_.nesterov,
                           .first_step = step == 1};
  Tensor param = params()[index].tensor;
  ATTNSCALE_DISPATCH_FLOAT(param.dtype(), "sgd", [&] {
    ATTNSCALE_ON_CUDA(param.device(),
                      cuda::sgd_update<scalar_t>(param.numel(), param.device_data<scalar_t>(),
                                                 grad.device_data<scalar_t>(),
                                                 buffers.empty() ? nullptr : buffers[0].device_data<scalar_t>(), s,
                                                 cuda::compute_stream(param.device())));
    scalar_t* momentum_buf = buffers.empty() ? nullptr : buffers[0].data<scalar_t>();
    kernels::sgd_update<scalar_t>(param.numel(), param.data<scalar_t>(), grad.data<scalar_t>(), momentum_buf, s);
  });
}

}  // namespace attnscale

// Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): the L2 norm over the gradients
// of all parameters taken together; when it exceeds max_norm every gradient is scaled in place by
// max_norm / (norm + 1e-6). Parameters without a gradient are skipped.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "framework/core/tensor/param_list.h"

namespace attnscale {

// The total gradient norm is NaN or infinite. Trainers may catch it to skip a step.
class NonFiniteGradient : public Error {
 public:
  NonFiniteGradient(const std::string& message, std::string parameter)
      : Error(message), parameter_(std::move(parameter)) {}
  // The first parameter (in list order) with a NaN or infinite gradient element on this rank;
  // empty when every local gradient is finite (overflow of the sum, or a value from another rank).
  const std::string& parameter() const { return parameter_; }

 private:
  std::string parameter_;
};

// Sum of the squares of every gradient element present on this rank, accumulated in double.
double grad_sum_of_squares(std::span<const NamedTensor> params);

// Clips to max_norm (0 = do not clip) and returns the total norm before clipping. Throws
// NonFiniteGradient naming the first parameter with a NaN/Inf gradient when the norm is not finite
// (whether or not clipping is on), before changing any gradient.
double clip_grad_norm(std::span<const NamedTensor> params, double max_norm);

// The same when each rank holds a different part of the parameters (sharded optimizer state,
// tensor parallelism): `sum_across_ranks` all-reduces the local sum of squares. Replicated
// parameters whose gradients were already all-reduced need the plain overload.
double clip_grad_norm(std::span<const NamedTensor> params, double max_norm,
                      const std::function<double(double)>& sum_across_ranks);

}  // namespace attnscale

// Normalisations over the last axis, the ops behind nn::LayerNorm and nn::RMSNorm:
//   layer_norm: (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance, as PyTorch)
//   rms_norm:   x / sqrt(mean(x^2) + eps) * gamma              (Zhang & Sennrich 2019)
// On the CPU each is a composition of elementwise ops and means (differentiated by autograd, so
// twice differentiable); on a GPU one fused kernel per direction (kernels/cuda/norm.h), which saves
// the mean and 1/std of each row for its backward. Differentiable in x, gamma and beta.
#pragma once

#include "framework/core/tensor/tensor.h"

namespace attnscale {

// x [..., D] (float32 or float64), gamma and beta [D] of x's dtype and device.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
Tensor rms_norm(const Tensor& x, const Tensor& gamma, double eps);

}  // namespace attnscale

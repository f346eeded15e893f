// CUDA launchers of LayerNorm and RMSNorm over the last axis of a contiguous [rows, dim] matrix
// (kernels/cuda/norm.cu), fused forward and backward. On the CPU these are compositions of ops
// (framework/nn/layers.cpp: LayerNorm, RMSNorm); the kernels compute the same formulas:
//   LayerNorm: y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(mean((x - mean)^2) + eps)
//   RMSNorm:   y = x * rstd * gamma,                 rstd = 1 / sqrt(mean(x^2) + eps)
// The forward saves mean (LayerNorm) and rstd per row for the backward.
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

template <typename T>
void layer_norm_forward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* beta, double eps, T* y,
                        T* mean, T* rstd, Stream stream);

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma, xhat = (x - mean) * rstd;
// dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy (both overwritten).
template <typename T>
void layer_norm_backward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* mean, const T* rstd,
                         const T* dy, T* dx, T* dgamma, T* dbeta, Stream stream);

template <typename T>
void rms_norm_forward(int64_t rows, int64_t dim, const T* x, const T* gamma, double eps, T* y, T* rstd, Stream stream);

// dx = rstd * (g - xhat * mean(g * xhat)) with g = dy * gamma, xhat = x * rstd; dgamma = sum of dy * xhat.
template <typename T>
void rms_norm_backward(int64_t rows, int64_t dim, const T* x, const T* gamma, const T* rstd, const T* dy, T* dx,
                       T* dgamma, Stream stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

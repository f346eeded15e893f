// Optimizer update kernels on raw pointers (backend-neutral declarations; CPU in kernels/cpu/optim.cpp).
// Each kernel updates n contiguous elements in place in one pass. The per-step scalars (bias
// corrections, step size) are computed once in double, so the loops only multiply, add, divide and
// take square roots, in the order of PyTorch's single-tensor implementations (PyTorch forms Adam's m
// with lerp; beta1 * m + (1 - beta1) * g is the same value up to rounding). An element's result does
// not depend on n, on its position or on the thread count.
#pragma once

#include <cstdint>

namespace attnscale::kernels {

// torch.optim.SGD: d = g + weight_decay * p;
//   with momentum: buf = first_step ? d : momentum * buf + (1 - dampening) * d;
//                  d = nesterov ? d + momentum * buf : buf;
//   p -= lr * d.
struct SgdStep {
  double lr = 0;
  double momentum = 0;  // 0: no buffer (momentum_buf may be null)
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the buffer is initialised from d instead of decayed
};

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdStep& step);

// torch.optim.Adam / AdamW (amsgrad off):
//   AdamW: p *= 1 - lr * weight_decay;   Adam: g += weight_decay * p;
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g;
//   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
struct AdamStep {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // AdamW
  int64_t step = 1;                     // t, 1 for the first update of this parameter
};

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamStep& step);

// Sum of x[i]^2 accumulated in double, in fixed blocks combined in a fixed order: the result does
// not depend on the thread count.
template <typename T>
double sum_of_squares(int64_t n, const T* x);

// Index of the first NaN or infinity in x, or -1.
template <typename T>
int64_t first_non_finite(int64_t n, const T* x);

}  // namespace attnscale::kernels

// The per-element optimizer updates of kernels/optim.h, written once for the CPU (on SIMD vectors,
// kernels/cpu/optim.cpp) and the CUDA kernels (on scalars, kernels/cuda/optim.cu). A step's scalars
// are computed once on the host, in double, by the *Scalars constructors.
#pragma once

#include <cmath>

#include "kernels/host_device.h"
#include "kernels/optim.h"

namespace attnscale::kernels {

template <typename T>
struct SgdScalars {
  T neg_lr, wd, mu, keep;
  bool use_wd;  // wd == 0 must leave d == g exactly (0 * inf would be NaN), hence a test, not + 0 * p
  bool first, nesterov;

  explicit SgdScalars(const SgdStep& s)
      : neg_lr(static_cast<T>(-s.lr)),
        wd(static_cast<T>(s.weight_decay)),
        mu(static_cast<T>(s.momentum)),
        keep(static_cast<T>(1.0 - s.dampening)),
        use_wd(s.weight_decay != 0),
        first(s.first_step),
        nesterov(s.nesterov) {}
};

// One SGD update without momentum (V: T or a SIMD vector of T).
template <typename T, typename V>
ATTNSCALE_HD inline void sgd_element(const SgdScalars<T>& s, V& p, const V& g) {
  const V d = s.use_wd ? g + s.wd * p : g;
  p = p + s.neg_lr * d;
}

// One SGD update with a momentum buffer.
template <typename T, typename V>
ATTNSCALE_HD inline void sgd_momentum_element(const SgdScalars<T>& s, V& p, const V& g, V& buf) {
  const V d = s.use_wd ? g + s.wd * p : g;
  buf = s.first ? d : buf * s.mu + s.keep * d;
  p = p + s.neg_lr * (s.nesterov ? d + s.mu * buf : buf);
}

template <typename T>
struct AdamScalars {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, neg_step_size, bias_correction2_sqrt, eps, wd, decay_factor;
  bool coupled_wd, decoupled_wd;

  explicit AdamScalars(const AdamStep& s)
      : beta1(static_cast<T>(s.beta1)),
        beta2(static_cast<T>(s.beta2)),
        one_minus_beta1(static_cast<T>(1.0 - s.beta1)),
        one_minus_beta2(static_cast<T>(1.0 - s.beta2)),
        neg_step_size(static_cast<T>(-(s.lr / (1.0 - std::pow(s.beta1, static_cast<double>(s.step)))))),
        bias_correction2_sqrt(static_cast<T>(std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step))))),
        eps(static_cast<T>(s.eps)),
        wd(static_cast<T>(s.weight_decay)),
        decay_factor(static_cast<T>(1.0 - s.lr * s.weight_decay)),
        coupled_wd(s.weight_decay != 0 && !s.decoupled_weight_decay),
        decoupled_wd(s.weight_decay != 0 && s.decoupled_weight_decay) {}
};

// One Adam/AdamW update; sqrt is the backend's square root of V.
template <typename T, typename V, typename Sqrt>
ATTNSCALE_HD inline void adam_element(const AdamScalars<T>& s, V& p, const V& g, V& m, V& v, Sqrt sqrt) {
  const V gv = s.coupled_wd ? g + s.wd * p : g;
  const V p_decayed = s.decoupled_wd ? p * s.decay_factor : p;
  m = m * s.beta1 + s.one_minus_beta1 * gv;
  v = v * s.beta2 + s.one_minus_beta2 * gv * gv;
  const V denom = sqrt(v) / s.bias_correction2_sqrt + s.eps;
  p = p_decayed + s.neg_step_size * (m / denom);
}

}  // namespace attnscale::kernels

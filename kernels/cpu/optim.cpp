// CPU optimizer kernels: one flat pass per parameter, vectorised (omp simd) and split across
// threads for large tensors. Element updates are independent, so the thread count never changes
// a result; the reduction sums fixed blocks in a fixed order for the same reason.
//
// GCC vectorises the Adam loop only under -fno-math-errno (std::sqrt may set errno otherwise, and
// neither `#pragma GCC optimize` nor the function attribute changes that in GCC 12); the SGD loops
// and the reduction vectorise as they are. benchmarks/bench_optim.cpp measures the difference.
#include "kernels/optim.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace attnscale::kernels {
namespace {
constexpr int64_t kParallelThreshold = int64_t{1} << 16;  // below this, threads cost more than they save
constexpr int64_t kReduceBlock = int64_t{1} << 14;
}  // namespace

template <typename T>
void sgd_update(int64_t n, T* __restrict param, const T* __restrict grad, T* __restrict momentum_buf,
                const SgdStep& s) {
  const T lr = static_cast<T>(s.lr), wd = static_cast<T>(s.weight_decay), mu = static_cast<T>(s.momentum);
  const T keep = static_cast<T>(1.0 - s.dampening);
  // wd == 0 must leave d == g exactly (0 * inf would be NaN), hence `use_wd` rather than adding 0 * p.
  // The branches are loop-invariant; the compiler unswitches them out of the loops.
  const bool use_wd = s.weight_decay != 0, first = s.first_step, nesterov = s.nesterov;
  if (s.momentum == 0) {
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
    for (int64_t i = 0; i < n; ++i) param[i] += -lr * (use_wd ? grad[i] + wd * param[i] : grad[i]);
    return;
  }
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T d = use_wd ? grad[i] + wd * param[i] : grad[i];
    const T buf = first ? d : momentum_buf[i] * mu + keep * d;
    momentum_buf[i] = buf;
    param[i] += -lr * (nesterov ? d + mu * buf : buf);
  }
}

template <typename T>
void adam_update(int64_t n, T* __restrict param, const T* __restrict grad, T* __restrict exp_avg,
                 T* __restrict exp_avg_sq, const AdamStep& s) {
  const double t = static_cast<double>(s.step);
  const T beta1 = static_cast<T>(s.beta1), beta2 = static_cast<T>(s.beta2);
  const T one_minus_beta1 = static_cast<T>(1.0 - s.beta1), one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T neg_step_size = static_cast<T>(-(s.lr / (1.0 - std::pow(s.beta1, t))));
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(s.beta2, t)));
  const T eps = static_cast<T>(s.eps);
  const T wd = static_cast<T>(s.weight_decay);
  const T decay_factor = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const bool coupled_wd = s.weight_decay != 0 && !s.decoupled_weight_decay;
  const bool decoupled_wd = s.weight_decay != 0 && s.decoupled_weight_decay;
#pragma omp parallel for simd if (n > kParallelThreshold) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T p = decoupled_wd ? param[i] * decay_factor : param[i];
    const T g = coupled_wd ? grad[i] + wd * param[i] : grad[i];
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const T denom = std::sqrt(v) / bias_correction2_sqrt + eps;
    param[i] = p + neg_step_size * (m / denom);
  }
}

template <typename T>
double sum_of_squares(int64_t n, const T* x) {
  const int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> block_sums(static_cast<size_t>(blocks));
#pragma omp parallel for if (n > kParallelThreshold) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kReduceBlock, end = std::min(n, begin + kReduceBlock);
    double acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = begin; i < end; ++i) {
      const double v = static_cast<double>(x[i]);
      acc += v * v;
    }
    block_sums[static_cast<size_t>(b)] = acc;
  }
  double total = 0;
  for (const double s : block_sums) total += s;
  return total;
}

template <typename T>
int64_t first_non_finite(int64_t n, const T* x) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

#define INSTANTIATE(T)                                                          \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const SgdStep&);       \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, const AdamStep&); \
  template double sum_of_squares<T>(int64_t, const T*);                         \
  template int64_t first_non_finite<T>(int64_t, const T*);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace attnscale::kernels

// CPU optimizer kernels: the active SIMD variant's updates (kernels/cpu/simd_kernels_impl.h: fixed
// blocks shared out among threads, std::experimental::simd lane groups, results independent of
// the thread count).
#include "kernels/optim.h"

#include <cmath>

#include "kernels/cpu/simd_kernels.h"

namespace attnscale::kernels {

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdStep& s) {
  cpu::simd_kernels().optim<T>().sgd_update(n, param, grad, momentum_buf, s);
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamStep& s) {
  cpu::simd_kernels().optim<T>().adam_update(n, param, grad, exp_avg, exp_avg_sq, s);
}

template <typename T>
double sum_of_squares(int64_t n, const T* x) {
  return cpu::simd_kernels().optim<T>().sum_of_squares(n, x);
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

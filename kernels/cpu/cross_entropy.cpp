#include "kernels/cross_entropy.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/row_ops.h"
#include "kernels/cpu/strided_rows.h"

namespace attnscale::kernels {

template <typename T>
void cross_entropy_forward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                           int64_t ignore_index, T* loss, T* lse) {
#pragma omp parallel for if (rows * classes >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = logits + r * classes;
    const T m = row_max(x, classes);
    lse[r] = m + std::log(row_sum_exp(x, classes, m));
    loss[r] = targets[r] == ignore_index ? T(0) : lse[r] - x[targets[r]];
  }
}

template <typename T>
void cross_entropy_backward(int64_t rows, int64_t classes, const T* logits, const int64_t* targets,
                            int64_t ignore_index, const T* lse, const T* grad_loss, T* grad_logits) {
#pragma omp parallel for if (rows * classes >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T* g = grad_logits + r * classes;
    if (targets[r] == ignore_index) {
      std::fill_n(g, classes, T(0));
      continue;
    }
    const T* x = logits + r * classes;
    const T scale = grad_loss[r], shift = lse[r];
#pragma omp simd
    for (int64_t c = 0; c < classes; ++c) g[c] = scale * math_for<T>::exp(x[c] - shift);
    g[targets[r]] -= scale;
  }
}

#define INSTANTIATE(T)                                                                                         \
  template void cross_entropy_forward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, T*, T*);        \
  template void cross_entropy_backward<T>(int64_t, int64_t, const T*, const int64_t*, int64_t, const T*,      \
                                          const T*, T*);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace attnscale::kernels

#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/row_ops.h"
#include "kernels/cpu/strided_rows.h"

namespace attnscale::kernels {

template <typename T>
void softmax_rows(const T* x, int64_t rows, int64_t n, T* y, bool log) {
#pragma omp parallel for if (rows > 1 && rows * n >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    const T m = row_max(xr, n);
    if (!std::isfinite(m)) {
      std::fill_n(yr, n, log ? -std::numeric_limits<T>::infinity() : T(0));
      continue;
    }
    if (log) {
      const T shift = m + std::log(row_sum_exp(xr, n, m));
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - shift;
    } else {
      const T inv = T(1) / row_sum_exp(xr, n, m, yr);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
    }
  }
}

template void softmax_rows<float>(const float*, int64_t, int64_t, float*, bool);
template void softmax_rows<double>(const double*, int64_t, int64_t, double*, bool);

}  // namespace attnscale::kernels

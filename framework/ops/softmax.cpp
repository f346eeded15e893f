#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/autograd/node.h"
#include "framework/ops/ops.h"

namespace attnscale {
namespace {

// Row-wise (log-)softmax of a contiguous [rows, n] matrix. Rows that are entirely -inf give zeros
// (softmax) or -inf (log_softmax) rather than NaN.
template <typename T, bool Log>
void softmax_rows(const T* x, int64_t rows, int64_t n, T* y) {
#pragma omp parallel for if (rows * n > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
    if (!std::isfinite(m)) {
      std::fill_n(yr, n, Log ? -std::numeric_limits<T>::infinity() : T(0));
      continue;
    }
    T total = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T e = std::exp(xr[i] - m);
      if constexpr (!Log) yr[i] = e;
      total += e;
    }
    if constexpr (Log) {
      const T shift = m + std::log(total);
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - shift;
    } else {
      const T inv = T(1) / total;
      for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
    }
  }
}

template <bool Log>
Tensor softmax_impl(const Tensor& x, int axis, const char* name) {
  const int ax = normalize_axis(axis, x.dim(), name);
  if (ax != x.dim() - 1) {
    // Move the axis last, normalise there, move it back: one code path for the loops.
    return transpose(softmax_impl<Log>(transpose(x, ax, -1), -1, name), ax, -1);
  }
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.dim() ? x.shape().back() : 1;
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    softmax_rows<scalar_t, Log>(xc.data<scalar_t>(), n ? x.numel() / n : 0, n, y.data<scalar_t>());
  });
  const Tensor dy = y.detach();
  return autograd::record(y, name, {x}, [dy](const Tensor& g) {
    if constexpr (Log) {
      return std::vector<Tensor>{sub(g, mul(exp(dy), sum(g, {-1}, true)))};
    } else {
      return std::vector<Tensor>{mul(dy, sub(g, sum(mul(g, dy), {-1}, true)))};
    }
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_impl<false>(x, axis, "softmax"); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl<true>(x, axis, "log_softmax"); }

}  // namespace attnscale

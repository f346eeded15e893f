#include "framework/nn/rope.h"

#include <cmath>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "kernels/rope.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
#include "kernels/cuda/rope.h"
#endif

namespace attnscale::nn {
namespace {

// Rotates every row of x [rows, N, D] in place into y; sign = -1 applies the inverse rotation
// (the backward: a rotation's transpose is the rotation by the opposite angle).
template <typename T>
void rotate(const T* x, T* y, int64_t rows, int64_t n, int64_t d, const std::vector<double>& cos_table,
            const std::vector<double>& sin_table, double sign) {
  const int64_t half = d / 2;
#pragma omp parallel for if (rows * n * d > (1 << 15))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < n; ++t) {
      const T* xr = x + (r * n + t) * d;
      T* yr = y + (r * n + t) * d;
      const double* c = cos_table.data() + t * half;
      const double* s = sin_table.data() + t * half;
      for (int64_t i = 0; i < half; ++i) {
        kernels::rope_rotate_pair(xr[i], xr[i + half], static_cast<T>(c[i]), static_cast<T>(sign * s[i]), yr[i],
                                  yr[i + half]);
      }
    }
}

Tensor rotate_tensor(const Tensor& x, const std::vector<double>& cos_table, const std::vector<double>& sin_table,
                     double sign) {
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const int64_t d = x.shape().back(), n = x.shape()[x.dim() - 2];
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), "rope", [&] {
    rotate(xc.data<scalar_t>(), y.data<scalar_t>(), x.numel() / (n * d), n, d, cos_table, sin_table, sign);
  });
  return y;
}

#if ATTNSCALE_HAVE_CUDA
// The GPU computes each angle from the positions (on x's device) instead of reading tables.
Tensor rotate_on_cuda(const Tensor& x, const Tensor& positions, double theta, bool inverse) {
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t d = x.shape().back(), n = x.shape()[x.dim() - 2], rows = n * d == 0 ? 0 : x.numel() / (n * d);
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), "rope", [&] {
    cuda::rope_rotate<scalar_t>(xc.device_data<scalar_t>(), y.device_data<scalar_t>(), rows, n, d,
                                positions.device_data<int64_t>(), theta, inverse, cuda::compute_stream(x.device()));
  });
  return y;
}
#endif

}  // namespace

Tensor apply_rope(const Tensor& x, const Tensor& positions, double theta) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return apply_rope(xf, positions, theta); }, x);
  ATTNSCALE_CHECK(x.dim() >= 2 && x.shape().back() % 2 == 0, "rope", "input {} needs an even last axis",
                  shape_str(x.shape()));
  const int64_t n = x.shape()[x.dim() - 2], d = x.shape().back(), half = d / 2;
  ATTNSCALE_CHECK(positions.dtype() == DType::i64 && positions.dim() == 1 && positions.numel() == n, "rope",
                  "positions must be int64 [{}], got {} {}", n, dtype_name(positions.dtype()),
                  shape_str(positions.shape()));
#if ATTNSCALE_HAVE_CUDA
  if (x.device().is_cuda()) {
    const Tensor pos = positions.to(x.device());
    Tensor y = rotate_on_cuda(x, pos, theta, false);
    return autograd::record(y, "rope", {x}, [pos, theta](const Tensor& g) {
      return std::vector<Tensor>{rotate_on_cuda(g, pos, theta, true)};
    });
  }
#endif
  const std::vector<int64_t> pos = positions.to_vector<int64_t>();
  auto cos_table = std::make_shared<std::vector<double>>(n * half);
  auto sin_table = std::make_shared<std::vector<double>>(n * half);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = kernels::rope_angle(pos[t], i, d, theta);
      (*cos_table)[t * half + i] = std::cos(angle);
      (*sin_table)[t * half + i] = std::sin(angle);
    }
  Tensor y = rotate_tensor(x, *cos_table, *sin_table, 1.0);
  return autograd::record(y, "rope", {x}, [cos_table, sin_table](const Tensor& g) {
    return std::vector<Tensor>{rotate_tensor(g, *cos_table, *sin_table, -1.0)};
  });
}

}  // namespace attnscale::nn

#include <algorithm>
#include <cmath>
#include <limits>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"

#include "kernels/indexing.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/indexing.h"
#include "kernels/cuda/reduce.h"
#endif

namespace attnscale {
namespace {

std::vector<int> normalize_axes(std::vector<int> axes, int64_t nd, const char* op) {
  for (int& a : axes) a = normalize_axis(a, nd, op);
  std::sort(axes.begin(), axes.end());
  ATTNSCALE_CHECK(std::adjacent_find(axes.begin(), axes.end()) == axes.end(), op, "repeated axis");
  return axes;
}

Shape reduced_shape(const Shape& shape, const std::vector<int>& axes, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    const bool reduced = std::binary_search(axes.begin(), axes.end(), static_cast<int>(i));
    if (!reduced) out.push_back(shape[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum of a contiguous [outer, r] matrix over r (rows), or of [r, inner] over r (columns).
template <typename T>
void sum_rows(const T* x, int64_t outer, int64_t r, T* out) {
#pragma omp parallel for if (outer * r > (1 << 16))
  for (int64_t o = 0; o < outer; ++o) {
    T acc = 0;
    const T* row = x + o * r;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < r; ++i) acc += row[i];
    out[o] = acc;
  }
}

template <typename T>
void sum_columns(const T* x, int64_t r, int64_t inner, T* out) {
  std::fill_n(out, inner, T(0));
  for (int64_t i = 0; i < r; ++i) {
    const T* row = x + i * inner;
#pragma omp simd
    for (int64_t j = 0; j < inner; ++j) out[j] += row[j];
  }
}


}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
  if (ops_detail::is_bf16(x))  // accumulates in float32
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return sum(xf, axes, keepdim); }, x);
  [[maybe_unused]] const Device device = ops_detail::common_device("sum", {x});
  axes = normalize_axes(std::move(axes), x.dim(), "sum");
  const Shape out_shape = reduced_shape(x.shape(), axes, keepdim);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (axes.empty()) {
    out.copy_(x);
  } else {
    // Move the reduced axes last (a view), copy once if needed, then sum rows; a reduced leading
    // prefix on a contiguous tensor sums columns without a copy.
    const int k = static_cast<int>(axes.size());
    const bool leading = axes.back() == k - 1;
    int64_t r = 1;
    for (int a : axes) r *= x.shape()[a];
    const int64_t kept = r == 0 ? out.numel() : x.numel() / std::max<int64_t>(r, 1);
    ATTNSCALE_DISPATCH_FLOAT(x.dtype(), "sum", [&] {
      // A reduced leading prefix of a contiguous tensor is [1, r, kept]; otherwise the reduced axes
      // move last, [kept, r, 1].
      if (leading && x.is_contiguous()) {
        ATTNSCALE_ON_CUDA(device, cuda::sum_along<scalar_t>(1, r, kept, x.device_data<scalar_t>(),
                                                            out.device_data<scalar_t>(), cuda::compute_stream(device)));
        sum_columns(x.data<scalar_t>(), r, kept, out.data<scalar_t>());
        return;
      }
      std::vector<int> order;
      for (int i = 0; i < x.dim(); ++i)
        if (!std::binary_search(axes.begin(), axes.end(), i)) order.push_back(i);
      order.insert(order.end(), axes.begin(), axes.end());
      autograd::NoGradGuard no_grad;
      const Tensor moved = permute(x, order).contiguous();
      ATTNSCALE_ON_CUDA(device, cuda::sum_along<scalar_t>(kept, r, 1, moved.device_data<scalar_t>(),
                                                          out.device_data<scalar_t>(), cuda::compute_stream(device)));
      sum_rows(moved.data<scalar_t>(), kept, r, out.data<scalar_t>());
    });
  }
  const Shape original = x.shape();
  Shape kept_shape = reduced_shape(original, axes, true);
  return autograd::record(out, "sum", {x}, [original, kept_shape](const Tensor& g) {
    return std::vector<Tensor>{expand(reshape(g, kept_shape), original).contiguous()};
  });
}

Tensor sum(const Tensor& x) {
  std::vector<int> all(x.dim());
  for (int i = 0; i < x.dim(); ++i) all[i] = i;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
  int64_t count = 1;
  for (int a : axes) count *= x.shape()[normalize_axis(a, x.dim(), "mean")];
  return mul(sum(x, std::move(axes), keepdim), 1.0 / static_cast<double>(std::max<int64_t>(count, 1)));
}

Tensor mean(const Tensor& x) { return mul(sum(x), 1.0 / static_cast<double>(std::max<int64_t>(x.numel(), 1))); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  ATTNSCALE_CHECK(lead >= 0, "sum_to", "cannot sum {} to {}", shape_str(x.shape()), shape_str(shape));
  std::vector<int> axes;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < lead) axes.push_back(static_cast<int>(i));
    else if (shape[i - lead] == 1 && x.shape()[i] != 1) axes.push_back(static_cast<int>(i));
    else
      ATTNSCALE_CHECK(shape[i - lead] == x.shape()[i], "sum_to", "cannot sum {} to {}", shape_str(x.shape()),
                      shape_str(shape));
  }
  return reshape(sum(x, axes, true), shape);
}

namespace {
// Index of the maximum along `axis` for each (outer, inner) and the value; NaN-free inputs assumed.
template <typename T>
void max_along(const T* x, ops_detail::AxisView s, T* values, int64_t* indices) {
#pragma omp parallel for if (s.outer * s.len * s.inner > (1 << 16))
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < s.inner; ++j) {
      const T* p = x + o * s.len * s.inner + j;
      T best = -std::numeric_limits<T>::infinity();
      int64_t arg = 0;
      for (int64_t i = 0; i < s.len; ++i)
        if (p[i * s.inner] > best) best = p[i * s.inner], arg = i;
      values[o * s.inner + j] = best;
      indices[o * s.inner + j] = arg;
    }
}
// Log-sum-exp along `axis`; an all -inf slice gives -inf.
template <typename T>
void logsumexp_along(const T* x, ops_detail::AxisView s, T* out) {
#pragma omp parallel for if (s.outer * s.len * s.inner > (1 << 16))
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < s.inner; ++j) {
      const T* p = x + o * s.len * s.inner + j;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < s.len; ++i) m = std::max(m, p[i * s.inner]);
      T acc = 0;
      if (std::isfinite(m))
        for (int64_t i = 0; i < s.len; ++i) acc += std::exp(p[i * s.inner] - m);
      out[o * s.inner + j] = std::isfinite(m) ? m + std::log(acc) : m;
    }
}
}  // namespace

namespace {
// The maximum along `axis` of x and the index of its first occurrence ([outer, inner] each), on x's
// device.
struct MaxAlong {
  Tensor values, indices;
};
MaxAlong max_with_index(const Tensor& x, int ax, const char* op) {
  const Device device = ops_detail::common_device(op, {x});
  ATTNSCALE_CHECK(x.shape()[ax] > 0, op, "empty axis {}", ax);
  const Tensor xc = x.contiguous();
  const ops_detail::AxisView s = ops_detail::axis_view(x.shape(), ax);
  const Shape out_shape = reduced_shape(x.shape(), {ax}, false);
  MaxAlong r{Tensor::empty(out_shape, x.dtype(), device), Tensor::empty(out_shape, DType::i64, device)};
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), op, [&] {
    const scalar_t* in = xc.device_data<scalar_t>();
    scalar_t* values = r.values.device_data<scalar_t>();
    int64_t* indices = r.indices.device_data<int64_t>();
    ATTNSCALE_ON_CUDA(device, cuda::max_along<scalar_t>(s.outer, s.len, s.inner, in, values, indices,
                                                        cuda::compute_stream(device)));
    max_along(in, s, values, indices);
  });
  return r;
}
}  // namespace

Tensor argmax(const Tensor& x, int axis, bool keepdim) {
  if (ops_detail::is_bf16(x)) return argmax(ops_detail::f32_copy(x), axis, keepdim);
  const int ax = normalize_axis(axis, x.dim(), "argmax");
  return reshape(max_with_index(x, ax, "argmax").indices, reduced_shape(x.shape(), {ax}, keepdim));
}

Tensor max(const Tensor& x, int axis, bool keepdim) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return max(xf, axis, keepdim); }, x);
  const int ax = normalize_axis(axis, x.dim(), "max");
  MaxAlong m = max_with_index(x, ax, "max");
  const Tensor values = reshape(m.values, reduced_shape(x.shape(), {ax}, keepdim));
  const Shape original = x.shape();
  const ops_detail::AxisView s = ops_detail::axis_view(original, ax);
  const Tensor indices = m.indices;
  return autograd::record(values, "max", {x}, [original, s, indices](const Tensor& g) {
    // The gradient goes to the first maximum: zeros with g scattered to those positions.
    const Device device = g.device();
    Tensor gin = Tensor::zeros(original, g.dtype(), device);
    const Tensor gc = g.contiguous();
    ATTNSCALE_DISPATCH_FLOAT(g.dtype(), "max", [&] {
      scalar_t* out = gin.device_data<scalar_t>();
      const scalar_t* src = gc.device_data<scalar_t>();
      const int64_t* index = indices.device_data<int64_t>();
      ATTNSCALE_ON_CUDA(device, cuda::scatter_add<scalar_t>(s.outer, s.len, s.inner, out, 1, index, src,
                                                            cuda::compute_stream(device)));
      kernels::scatter_add<scalar_t>(s.outer, s.len, s.inner, out, 1, index, src);
    });
    return std::vector<Tensor>{gin};
  });
}

Tensor logsumexp(const Tensor& x, int axis, bool keepdim) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return logsumexp(xf, axis, keepdim); }, x);
  const Device device = ops_detail::common_device("logsumexp", {x});
  const int ax = normalize_axis(axis, x.dim(), "logsumexp");
  const Tensor xc = x.contiguous();
  const ops_detail::AxisView s = ops_detail::axis_view(x.shape(), ax);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), {ax}, keepdim), x.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), "logsumexp", [&] {
    const scalar_t* in = xc.device_data<scalar_t>();
    scalar_t* lse = out.device_data<scalar_t>();
    ATTNSCALE_ON_CUDA(device, cuda::logsumexp_along<scalar_t>(s.outer, s.len, s.inner, in, lse,
                                                              cuda::compute_stream(device)));
    logsumexp_along(in, s, lse);
  });
  const Tensor dx = xc.detach(), dout = reshape(out.detach(), reduced_shape(x.shape(), {ax}, true));
  return autograd::record(out, "logsumexp", {x}, [dx, dout](const Tensor& g) {
    // d lse / dx = softmax(x); rows that were all -inf get no gradient.
    Tensor weights = exp(sub(dx, dout));
    return std::vector<Tensor>{mul(weights, reshape(g, dout.shape()))};
  });
}

}  // namespace attnscale

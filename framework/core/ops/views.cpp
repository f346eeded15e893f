#include <numeric>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/elementwise.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace attnscale {

Tensor reshape(const Tensor& x, Shape shape) {
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      ATTNSCALE_CHECK(infer_at < 0, "reshape", "only one -1 allowed in {}", shape_str(shape));
      infer_at = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    ATTNSCALE_CHECK(known > 0 && x.numel() % known == 0, "reshape", "cannot reshape {} to {}", shape_str(x.shape()),
                    shape_str(shape));
    shape[infer_at] = x.numel() / known;
  }
  ATTNSCALE_CHECK(numel_of(shape) == x.numel(), "reshape", "cannot reshape {} ({} elements) to {}",
                  shape_str(x.shape()), x.numel(), shape_str(shape));
  const Tensor base = x.contiguous();
  Tensor out = make_view(base, shape, contiguous_strides(shape), base.offset());
  const Shape original = x.shape();
  return autograd::record(out, "reshape", {base}, [original](const Tensor& g) {
    return std::vector<Tensor>{reshape(g, original)};
  });
}

Tensor permute(const Tensor& x, const std::vector<int>& axes) {
  const int64_t nd = x.dim();
  ATTNSCALE_CHECK(static_cast<int64_t>(axes.size()) == nd, "permute", "{} axes given for a {}-d tensor", axes.size(), nd);
  Shape shape(nd), strides(nd);
  std::vector<int> inverse(nd, -1);
  for (int64_t i = 0; i < nd; ++i) {
    const int a = normalize_axis(axes[i], nd, "permute");
    ATTNSCALE_CHECK(inverse[a] < 0, "permute", "axis {} repeated", a);
    inverse[a] = static_cast<int>(i);
    shape[i] = x.shape()[a];
    strides[i] = x.strides()[a];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  return autograd::record(out, "permute", {x}, [inverse](const Tensor& g) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int a, int b) {
  std::vector<int> axes(x.dim());
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[normalize_axis(a, x.dim(), "transpose")], axes[normalize_axis(b, x.dim(), "transpose")]);
  return permute(x, axes);
}

Tensor narrow(const Tensor& x, int axis, int64_t start, int64_t length) {
  const int ax = normalize_axis(axis, x.dim(), "narrow");
  ATTNSCALE_CHECK(start >= 0 && length >= 0 && start + length <= x.shape()[ax], "narrow",
                  "range [{}, {}) outside axis {} of size {}", start, start + length, ax, x.shape()[ax]);
  Shape shape = x.shape();
  shape[ax] = length;
  Tensor out = make_view(x, shape, x.strides(), x.offset() + start * x.strides()[ax]);
  const Shape original = x.shape();
  return autograd::record(out, "narrow", {x}, [original, ax, start](const Tensor& g_in) {
    const Tensor g = ops_detail::f32_copy(g_in);  // bf16: accumulated in float32, rounded once
    Tensor gin = Tensor::zeros(original, g.dtype(), g.device());
    const Tensor gc = g.contiguous();
    ATTNSCALE_DISPATCH_FLOAT(g.dtype(), "narrow", [&] {
      // Each element of g has its own destination: the device's atomic adds meet no other.
      ATTNSCALE_ON_CUDA(g.device(), cuda::strided_accumulate<scalar_t>(
                                        static_cast<int>(gc.dim()), gc.shape().data(), gc.device_data<scalar_t>(),
                                        gin.device_data<scalar_t>() + start * gin.strides()[ax], gin.strides().data(),
                                        cuda::compute_stream(g.device())));
      kernels::strided_accumulate<scalar_t>(static_cast<int>(gc.dim()), gc.shape().data(), gc.data<scalar_t>(),
                                            gin.data<scalar_t>() + start * gin.strides()[ax], gin.strides().data());
    });
    return std::vector<Tensor>{ops_detail::is_bf16(g_in) ? ops_detail::bf16_copy(gin) : gin};
  });
}

Tensor expand(const Tensor& x, Shape shape) {
  ATTNSCALE_CHECK(shape.size() >= x.shape().size(), "expand", "cannot expand {} to {}", shape_str(x.shape()),
                  shape_str(shape));
  const size_t lead = shape.size() - x.shape().size();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < x.shape().size(); ++i) {
    const int64_t from = x.shape()[i], to = shape[lead + i];
    ATTNSCALE_CHECK(from == to || from == 1, "expand", "cannot expand {} to {}", shape_str(x.shape()), shape_str(shape));
    strides[lead + i] = from == 1 && to != 1 ? 0 : x.strides()[i];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  const Shape original = x.shape();
  return autograd::record(out, "expand", {x}, [original](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, original)};
  });
}

Tensor unsqueeze(const Tensor& x, int axis) {
  const int ax = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + ax, 1);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int axis) {
  const int ax = normalize_axis(axis, x.dim(), "squeeze");
  ATTNSCALE_CHECK(x.shape()[ax] == 1, "squeeze", "axis {} has size {}, not 1", ax, x.shape()[ax]);
  Shape shape = x.shape();
  shape.erase(shape.begin() + ax);
  return reshape(x, shape);
}

Tensor flatten(const Tensor& x, int start_axis, int end_axis) {
  const int s = normalize_axis(start_axis, x.dim(), "flatten"), e = normalize_axis(end_axis, x.dim(), "flatten");
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t merged = 1;
  for (int i = s; i <= e; ++i) merged *= x.shape()[i];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

}  // namespace attnscale

#include "framework/core/ops/indexing.h"

#include <algorithm>
#include <string>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/indexing.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/indexing.h"
#endif

namespace attnscale {

int64_t ops_detail::find_index_out_of_range(const Tensor& index, int64_t limit, int64_t ignored) {
  const Tensor ic = index.contiguous();
  if (ic.device().is_cuda()) {
    int64_t bad = -1;
#if ATTNSCALE_HAVE_CUDA
    Tensor first = Tensor::empty({}, DType::i64, ic.device());
    cuda::find_index_out_of_range(ic.numel(), ic.device_data<int64_t>(), limit, ignored, first.device_data<int64_t>(),
                                  cuda::compute_stream(ic.device()));
    bad = first.to_vector<int64_t>()[0];  // one synchronising read of 8 bytes
#endif
    return bad;
  }
  return kernels::find_index_out_of_range(ic.numel(), ic.data<int64_t>(), limit, ignored);
}

namespace {

using ops_detail::axis_view;
using ops_detail::AxisView;
using ops_detail::check_int64;

// Throws "[op] <noun> <value> at position <i> is out of range for <range>" for the first bad
// entry of an int64 tensor.
void check_index_range(const Tensor& index, int64_t limit, const char* op, const char* noun, const std::string& range) {
  const int64_t bad = ops_detail::find_index_out_of_range(index, limit);
  if (bad >= 0)
    throw UsageError(fmt::format("[{}] {} {} at position {} is out of range for {}", op, noun,
                                 narrow(reshape(index, {-1}), 0, bad, 1).to_vector<int64_t>()[0], bad, range));
}

// Checks the shape rule shared by gather and scatter_add: index has x's rank and x's sizes on
// every axis but `ax`.
void check_index_shape(const Tensor& x, int ax, const Tensor& index, const char* op) {
  bool ok = index.dim() == x.dim();
  for (int d = 0; ok && d < x.dim(); ++d) ok = d == ax || index.shape()[d] == x.shape()[d];
  ATTNSCALE_CHECK(ok, op, "index shape {} must match input shape {} on every axis but axis {}",
                  shape_str(index.shape()), shape_str(x.shape()), ax);
}

std::string axis_range(const Tensor& x, int ax) {
  return fmt::format("axis {} of size {} (input shape {})", ax, x.shape()[ax], shape_str(x.shape()));
}

// The kernels below take contiguous operands whose indices were already checked.
Tensor gather_checked(const Tensor& xc, int ax, const Tensor& ic) {
  Tensor out = Tensor::empty(ic.shape(), xc.dtype(), xc.device());
  const AxisView xv = axis_view(xc.shape(), ax), iv = axis_view(ic.shape(), ax);
  ATTNSCALE_DISPATCH_ALL(xc.dtype(), [&] {
    ATTNSCALE_ON_CUDA(xc.device(), cuda::gather<scalar_t>(xv.outer, xv.len, xv.inner, xc.device_data<scalar_t>(), iv.len,
                                                          ic.device_data<int64_t>(), out.device_data<scalar_t>(),
                                                          cuda::compute_stream(xc.device())));
    kernels::gather<scalar_t>(xv.outer, xv.len, xv.inner, xc.data<scalar_t>(), iv.len, ic.data<int64_t>(),
                              out.data<scalar_t>());
  });
  return out;
}

void scatter_add_checked(Tensor& out, int ax, const Tensor& ic, const Tensor& src_c) {
  const AxisView ov = axis_view(out.shape(), ax), iv = axis_view(ic.shape(), ax);
  ATTNSCALE_DISPATCH_ALL(out.dtype(), [&] {
    ATTNSCALE_ON_CUDA(out.device(),
                      cuda::scatter_add<scalar_t>(ov.outer, ov.len, ov.inner, out.device_data<scalar_t>(), iv.len,
                                                  ic.device_data<int64_t>(), src_c.device_data<scalar_t>(),
                                                  cuda::compute_stream(out.device())));
    kernels::scatter_add<scalar_t>(ov.outer, ov.len, ov.inner, out.data<scalar_t>(), iv.len, ic.data<int64_t>(),
                                   src_c.data<scalar_t>());
  });
}

Tensor index_select_checked(const Tensor& xc, int ax, const Tensor& ic, Shape out_shape) {
  Tensor out = Tensor::empty(out_shape, xc.dtype(), xc.device());
  const AxisView xv = axis_view(xc.shape(), ax);
  ATTNSCALE_DISPATCH_ALL(xc.dtype(), [&] {
    ATTNSCALE_ON_CUDA(xc.device(), cuda::index_select<scalar_t>(xv.outer, xv.len, xv.inner, xc.device_data<scalar_t>(),
                                                                ic.numel(), ic.device_data<int64_t>(),
                                                                out.device_data<scalar_t>(),
                                                                cuda::compute_stream(xc.device())));
    kernels::index_select<scalar_t>(xv.outer, xv.len, xv.inner, xc.data<scalar_t>(), ic.numel(), ic.data<int64_t>(),
                                    out.data<scalar_t>());
  });
  return out;
}

// The gradient of index_select: g ([outer, n, inner]) added into zeros of `shape` at the indices.
Tensor index_add_into_zeros(const Shape& shape, int ax, const Tensor& ic, const Tensor& g) {
  const Tensor gc = g.contiguous();
  Tensor out = Tensor::zeros(shape, gc.dtype(), gc.device());
  const AxisView ov = axis_view(shape, ax);
  ATTNSCALE_DISPATCH_FLOAT(gc.dtype(), "index_add", [&] {
    ATTNSCALE_ON_CUDA(gc.device(), cuda::index_add<scalar_t>(ov.outer, ov.len, ov.inner, out.device_data<scalar_t>(),
                                                             ic.numel(), ic.device_data<int64_t>(),
                                                             gc.device_data<scalar_t>(),
                                                             cuda::compute_stream(gc.device())));
    kernels::index_add<scalar_t>(ov.outer, ov.len, ov.inner, out.data<scalar_t>(), ic.numel(), ic.data<int64_t>(),
                                 gc.data<scalar_t>());
  });
  return out;
}

Tensor concat_impl(const std::vector<Tensor>& parts, int axis, const char* op) {
  ATTNSCALE_CHECK(!parts.empty(), op, "needs at least one tensor");
  if (ops_detail::is_bf16(parts[0])) {
    std::vector<Tensor> f32_parts;
    for (const Tensor& p : parts) f32_parts.push_back(ops_detail::f32_input(p));
    return concat_impl(f32_parts, axis, op).to(DType::bf16);
  }
  const Tensor& first = parts[0];
  ATTNSCALE_CHECK(first.dim() >= 1, op, "cannot join 0-d tensors along an axis (use stack)");
  const int ax = normalize_axis(axis, first.dim(), op);
  Shape out_shape = first.shape();
  out_shape[ax] = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const Tensor& p = parts[k];
    ops_detail::common_device(op, {first, p});
    ATTNSCALE_CHECK(p.dtype() == first.dtype(), op, "part {} is {} but part 0 is {}", k, dtype_name(p.dtype()),
                    dtype_name(first.dtype()));
    bool ok = p.dim() == first.dim();
    for (int d = 0; ok && d < first.dim(); ++d) ok = d == ax || p.shape()[d] == first.shape()[d];
    ATTNSCALE_CHECK(ok, op, "part {} has shape {} and part 0 has shape {}: they may differ only on axis {}", k,
                    shape_str(p.shape()), shape_str(first.shape()), ax);
    out_shape[ax] += p.shape()[ax];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const AxisView ov = axis_view(out_shape, ax);
  std::vector<int64_t> lengths;
  int64_t offset = 0;
  for (const Tensor& p : parts) {
    const Tensor pc = p.contiguous();
    const int64_t slab = p.shape()[ax] * ov.inner;  // elements of this part per outer index
    ATTNSCALE_DISPATCH_ALL(out.dtype(), [&] {
      ATTNSCALE_ON_CUDA(out.device(),
                        cuda::copy_rows<scalar_t>(ov.outer, slab, pc.device_data<scalar_t>(), slab,
                                                  out.device_data<scalar_t>() + offset * ov.inner, ov.len * ov.inner,
                                                  cuda::compute_stream(out.device())));
      kernels::copy_rows<scalar_t>(ov.outer, slab, pc.data<scalar_t>(), slab, out.data<scalar_t>() + offset * ov.inner,
                                   ov.len * ov.inner);
    });
    lengths.push_back(p.shape()[ax]);
    offset += p.shape()[ax];
  }
  // The gradient of joining is splitting.
  return autograd::record(out, op, parts, [ax, lengths](const Tensor& g) { return split(g, lengths, ax); });
}

}  // namespace

Tensor gather(const Tensor& x, int axis, const Tensor& index) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return gather(xf, axis, index); }, x);
  ops_detail::common_device("gather", {x, index});
  check_int64(index, "gather", "index");
  const int ax = normalize_axis(axis, x.dim(), "gather");
  check_index_shape(x, ax, index, "gather");
  const Tensor ic = index.contiguous();
  check_index_range(ic, x.shape()[ax], "gather", "index", axis_range(x, ax));
  Tensor out = gather_checked(x.contiguous(), ax, ic);
  const Shape x_shape = x.shape();
  return autograd::record(out, "gather", {x}, [x_shape, ax, ic](const Tensor& g) {
    Tensor gx = Tensor::zeros(x_shape, g.dtype(), g.device());
    scatter_add_checked(gx, ax, ic, g.contiguous());
    return std::vector<Tensor>{gx};
  });
}

Tensor scatter_add(const Tensor& x, int axis, const Tensor& index, const Tensor& src) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32(
        [&](const Tensor& xf, const Tensor& sf) { return scatter_add(xf, axis, index, sf); }, x, src);
  ops_detail::common_device("scatter_add", {x, index, src});
  check_int64(index, "scatter_add", "index");
  ATTNSCALE_CHECK(x.dtype() == src.dtype(), "scatter_add", "src is {} but input is {}", dtype_name(src.dtype()),
                  dtype_name(x.dtype()));
  const int ax = normalize_axis(axis, x.dim(), "scatter_add");
  ATTNSCALE_CHECK(index.shape() == src.shape(), "scatter_add", "index shape {} differs from src shape {}",
                  shape_str(index.shape()), shape_str(src.shape()));
  check_index_shape(x, ax, index, "scatter_add");
  const Tensor ic = index.contiguous();
  check_index_range(ic, x.shape()[ax], "scatter_add", "index", axis_range(x, ax));
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.copy_(x);
  scatter_add_checked(out, ax, ic, src.contiguous());
  return autograd::record(out, "scatter_add", {x, src}, [ax, ic](const Tensor& g) {
    return std::vector<Tensor>{g, gather_checked(g.contiguous(), ax, ic)};
  });
}

Tensor index_select(const Tensor& x, int axis, const Tensor& index) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return index_select(xf, axis, index); }, x);
  ops_detail::common_device("index_select", {x, index});
  check_int64(index, "index_select", "index");
  const int ax = normalize_axis(axis, x.dim(), "index_select");
  ATTNSCALE_CHECK(index.dim() == 1, "index_select", "index must be 1-d, got shape {}", shape_str(index.shape()));
  const Tensor ic = index.contiguous();
  check_index_range(ic, x.shape()[ax], "index_select", "index", axis_range(x, ax));
  Shape out_shape = x.shape();
  out_shape[ax] = ic.numel();
  Tensor out = index_select_checked(x.contiguous(), ax, ic, out_shape);
  const Shape x_shape = x.shape();
  return autograd::record(out, "index_select", {x}, [x_shape, ax, ic](const Tensor& g) {
    return std::vector<Tensor>{index_add_into_zeros(x_shape, ax, ic, g)};
  });
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  if (ops_detail::is_bf16(weight))
    return ops_detail::bf16_via_f32([&](const Tensor& wf) { return embedding(wf, ids); }, weight);
  ops_detail::common_device("embedding", {weight, ids});
  check_int64(ids, "embedding", "ids");
  ATTNSCALE_CHECK(weight.dim() == 2, "embedding", "weight must be [vocabulary, dim], got shape {}",
                  shape_str(weight.shape()));
  const int64_t vocab = weight.shape()[0];
  const Tensor ic = ids.contiguous();
  check_index_range(ic, vocab, "embedding", "id",
                    fmt::format("a vocabulary of {} rows (weight shape {})", vocab, shape_str(weight.shape())));
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.shape()[1]);
  Tensor out = index_select_checked(weight.contiguous(), 0, ic, out_shape);
  const Shape w_shape = weight.shape();
  return autograd::record(out, "embedding", {weight}, [w_shape, ic](const Tensor& g) {
    return std::vector<Tensor>{index_add_into_zeros(w_shape, 0, ic, g)};
  });
}

Tensor concat(const std::vector<Tensor>& parts, int axis) { return concat_impl(parts, axis, "concat"); }

Tensor stack(const std::vector<Tensor>& parts, int axis) {
  ATTNSCALE_CHECK(!parts.empty(), "stack", "needs at least one tensor");
  const int ax = normalize_axis(axis, parts[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t k = 0; k < parts.size(); ++k) {
    ATTNSCALE_CHECK(parts[k].shape() == parts[0].shape(), "stack", "part {} has shape {} but part 0 has shape {}", k,
                    shape_str(parts[k].shape()), shape_str(parts[0].shape()));
    expanded.push_back(unsqueeze(parts[k], ax));
  }
  return concat_impl(expanded, ax, "stack");
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int axis) {
  ATTNSCALE_CHECK(x.dim() >= 1, "split", "cannot split a 0-d tensor");
  const int ax = normalize_axis(axis, x.dim(), "split");
  ATTNSCALE_CHECK(split_size > 0, "split", "split size must be positive, got {}", split_size);
  const int64_t n = x.shape()[ax];
  if (n == 0) return {x};
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
  return split(x, sizes, ax);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
  ATTNSCALE_CHECK(x.dim() >= 1, "split", "cannot split a 0-d tensor");
  const int ax = normalize_axis(axis, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    ATTNSCALE_CHECK(s >= 0, "split", "negative size in {}", shape_str(sizes));
    total += s;
  }
  ATTNSCALE_CHECK(total == x.shape()[ax], "split", "sizes {} add up to {} but axis {} of shape {} has size {}",
                  shape_str(sizes), total, ax, shape_str(x.shape()), x.shape()[ax]);
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(narrow(x, ax, start, s));
    start += s;
  }
  return pieces;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (ops_detail::is_bf16(a))
    return ops_detail::bf16_via_f32([&](const Tensor& af, const Tensor& bf) { return where(ops_detail::f32_copy(cond), af, bf); },
                                    a, b);
  [[maybe_unused]] const Device device = ops_detail::common_device("where", {cond, a, b});
  ATTNSCALE_CHECK(a.dtype() == b.dtype(), "where", "a is {} but b is {}", dtype_name(a.dtype()), dtype_name(b.dtype()));
  Shape out_shape;
  try {
    out_shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  } catch (const UsageError&) {
    throw UsageError(fmt::format("[where] shapes {} (cond), {} (a) and {} (b) cannot be broadcast together",
                                 shape_str(cond.shape()), shape_str(a.shape()), shape_str(b.shape())));
  }
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const Shape sc = ops_detail::broadcast_strides(cond, out_shape), sa = ops_detail::broadcast_strides(a, out_shape),
              sb = ops_detail::broadcast_strides(b, out_shape);
  const int nd = static_cast<int>(out_shape.size());
  ATTNSCALE_DISPATCH_ALL(a.dtype(), [&] {
    using value_t = scalar_t;
    ATTNSCALE_DISPATCH_ALL(cond.dtype(), [&] {
      ATTNSCALE_ON_CUDA(device, cuda::where<value_t, scalar_t>(nd, out_shape.data(), cond.device_data<scalar_t>(),
                                                               sc.data(), a.device_data<value_t>(), sa.data(),
                                                               b.device_data<value_t>(), sb.data(),
                                                               out.device_data<value_t>(), cuda::compute_stream(device)));
      kernels::where<value_t, scalar_t>(nd, out_shape.data(), cond.data<scalar_t>(), sc.data(), a.data<value_t>(),
                                        sa.data(), b.data<value_t>(), sb.data(), out.data<value_t>());
    });
  });
  const Tensor saved_cond = cond.detach();
  const Shape a_shape = a.shape(), b_shape = b.shape();
  const bool a_needs = a.requires_grad(), b_needs = b.requires_grad();
  return autograd::record(out, "where", {a, b}, [=](const Tensor& g) {
    const Tensor zero = Tensor::scalar(0.0, g.dtype()).to(g.device());
    Tensor ga, gb;
    if (a_needs) ga = sum_to(where(saved_cond, g, zero), a_shape);
    if (b_needs) gb = sum_to(where(saved_cond, zero, g), b_shape);
    return std::vector<Tensor>{ga, gb};
  });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  const Shape joint = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  ATTNSCALE_CHECK(joint == x.shape(), "masked_fill", "mask shape {} does not broadcast to input shape {}",
                  shape_str(mask.shape()), shape_str(x.shape()));
  return where(mask, Tensor::scalar(value, x.dtype()).to(x.device()), x);
}

}  // namespace attnscale

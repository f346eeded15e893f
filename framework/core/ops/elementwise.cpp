#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/elementwise.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace attnscale {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

using ops_detail::broadcast_strides;

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  [[maybe_unused]] const Device device = ops_detail::common_device(name, {a, b});
  ATTNSCALE_CHECK(a.dtype() == b.dtype(), name, "dtype mismatch: {} and {}", dtype_name(a.dtype()),
                  dtype_name(b.dtype()));
  if (ops_detail::is_bf16(a))
    return ops_detail::bf16_copy(binary_forward(op, ops_detail::f32_copy(a), ops_detail::f32_copy(b), name));
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  const Shape sa = broadcast_strides(a, out_shape), sb = broadcast_strides(b, out_shape);
  ATTNSCALE_DISPATCH_ALL(a.dtype(), [&] {
    ATTNSCALE_ON_CUDA(device, cuda::binary<scalar_t>(op, static_cast<int>(out_shape.size()), out_shape.data(),
                                                     a.device_data<scalar_t>(), sa.data(), b.device_data<scalar_t>(),
                                                     sb.data(), out.device_data<scalar_t>(), cuda::compute_stream(device)));
    kernels::binary<scalar_t>(op, static_cast<int>(out_shape.size()), out_shape.data(), a.data<scalar_t>(), sa.data(),
                              b.data<scalar_t>(), sb.data(), out.data<scalar_t>());
  });
  return out;
}

// op(x) without autograd; bf16 through float32 (op_helpers.h).
Tensor unary_forward(UnaryOp op, const Tensor& xc, const char* name) {
  if (ops_detail::is_bf16(xc)) return ops_detail::bf16_copy(unary_forward(op, ops_detail::f32_copy(xc), name));
  const Device device = ops_detail::common_device(name, {xc});
  Tensor out = Tensor::empty(xc.shape(), xc.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(xc.dtype(), name, [&] {
    ATTNSCALE_ON_CUDA(device, cuda::unary<scalar_t>(op, xc.numel(), xc.device_data<scalar_t>(),
                                                    out.device_data<scalar_t>(), cuda::compute_stream(device)));
    kernels::unary<scalar_t>(op, xc.numel(), xc.data<scalar_t>(), out.data<scalar_t>());
  });
  return out;
}

// The gradient of op at saved_in (whose image is saved_out) applied to gc, without autograd.
Tensor unary_backward(UnaryOp op, const Tensor& saved_in, const Tensor& saved_out, const Tensor& gc,
                      const char* name) {
  if (ops_detail::is_bf16(gc))
    return ops_detail::bf16_copy(unary_backward(op, ops_detail::f32_copy(saved_in), ops_detail::f32_copy(saved_out),
                                                ops_detail::f32_copy(gc), name));
  const Device device = ops_detail::common_device(name, {gc, saved_in});
  Tensor gin = Tensor::empty(gc.shape(), gc.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(gc.dtype(), name, [&] {
    ATTNSCALE_ON_CUDA(device, cuda::unary_backward<scalar_t>(op, gc.numel(), saved_in.device_data<scalar_t>(),
                                                             saved_out.device_data<scalar_t>(),
                                                             gc.device_data<scalar_t>(), gin.device_data<scalar_t>(),
                                                             cuda::compute_stream(device)));
    kernels::unary_backward<scalar_t>(op, gc.numel(), saved_in.data<scalar_t>(), saved_out.data<scalar_t>(),
                                      gc.data<scalar_t>(), gin.data<scalar_t>());
  });
  return gin;
}

Tensor unary_op(UnaryOp op, const Tensor& x, const char* name) {
  const Tensor xc = x.contiguous();
  const Tensor out = unary_forward(op, xc, name);
  const Tensor saved_in = xc.detach(), saved_out = out.detach();
  return autograd::record(out, name, {x}, [op, saved_in, saved_out, name](const Tensor& g) {
    return std::vector<Tensor>{unary_backward(op, saved_in, saved_out, g.contiguous(), name)};
  });
}

Tensor scalar_like(const Tensor& x, double v) { return Tensor::scalar(v, x.dtype()).to(x.device()); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::add, a, b, "add");
  const Shape sa = a.shape(), sb = b.shape();
  return autograd::record(out, "add", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::sub, a, b, "sub");
  const Shape sa = a.shape(), sb = b.shape();
  return autograd::record(out, "sub", {a, b}, [sa, sb](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::mul, a, b, "mul");
  const Tensor da = a.detach(), db = b.detach();
  return autograd::record(out, "mul", {a, b}, [da, db](const Tensor& g) {
    return std::vector<Tensor>{sum_to(mul(g, db), da.shape()), sum_to(mul(g, da), db.shape())};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::div, a, b, "div");
  const Tensor da = a.detach(), db = b.detach();
  return autograd::record(out, "div", {a, b}, [da, db](const Tensor& g) {
    const Tensor ga = div(g, db);
    return std::vector<Tensor>{sum_to(ga, da.shape()), sum_to(neg(mul(ga, div(da, db))), db.shape())};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::pow, a, b, "pow");
  const Tensor da = a.detach(), db = b.detach(), dout = out.detach();
  const bool exponent_needs_grad = b.requires_grad();
  return autograd::record(out, "pow", {a, b}, [da, db, dout, exponent_needs_grad](const Tensor& g) {
    // d/da a^b = b a^(b-1); d/db a^b = a^b log a, computed only when asked (log a is NaN for a < 0).
    const Tensor ga = mul(g, mul(db, pow(da, sub(db, scalar_like(db, 1.0)))));
    Tensor gb;
    if (exponent_needs_grad) gb = sum_to(mul(g, mul(dout, log(da))), db.shape());
    return std::vector<Tensor>{sum_to(ga, da.shape()), gb};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::maximum, a, b, "maximum");
  const Tensor da = a.detach(), db = b.detach();
  return autograd::record(out, "maximum", {a, b}, [da, db](const Tensor& g) {
    // Ties send the gradient to a, like a subgradient choice.
    const Tensor a_wins = binary_forward(BinaryOp::less, da, db, "maximum");  // 1 where b > a
    const Tensor gb = mul(g, a_wins);
    return std::vector<Tensor>{sum_to(sub(g, gb), da.shape()), sum_to(gb, db.shape())};
  });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::minimum, a, b, "minimum");
  const Tensor da = a.detach(), db = b.detach();
  return autograd::record(out, "minimum", {a, b}, [da, db](const Tensor& g) {
    const Tensor b_wins = binary_forward(BinaryOp::greater, da, db, "minimum");  // 1 where b < a
    const Tensor gb = mul(g, b_wins);
    return std::vector<Tensor>{sum_to(sub(g, gb), da.shape()), sum_to(gb, db.shape())};
  });
}

Tensor add(const Tensor& a, double s) { return add(a, scalar_like(a, s)); }
Tensor mul(const Tensor& a, double s) { return mul(a, scalar_like(a, s)); }
Tensor pow(const Tensor& a, double exponent) { return pow(a, scalar_like(a, exponent)); }

Tensor greater(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::greater, a, b, "greater"); }
Tensor less(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::less, a, b, "less"); }
Tensor equal(const Tensor& a, const Tensor& b) { return binary_forward(BinaryOp::equal, a, b, "equal"); }

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x, "neg"); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x, "exp"); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x, "log"); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x, "tanh"); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x, "sigmoid"); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x, "relu"); }
Tensor gelu(const Tensor& x) { return unary_op(UnaryOp::gelu, x, "gelu"); }
Tensor silu(const Tensor& x) { return unary_op(UnaryOp::silu, x, "silu"); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x, "sqrt"); }
Tensor rsqrt(const Tensor& x) { return unary_op(UnaryOp::rsqrt, x, "rsqrt"); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x, "abs"); }
Tensor square(const Tensor& x) { return unary_op(UnaryOp::square, x, "square"); }

}  // namespace attnscale

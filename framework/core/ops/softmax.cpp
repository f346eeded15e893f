#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/softmax.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/softmax.h"
#endif

namespace attnscale {
namespace {

template <bool Log>
Tensor softmax_impl(const Tensor& x, int axis, const char* name) {
  [[maybe_unused]] const Device device = ops_detail::common_device(name, {x});
  const int ax = normalize_axis(axis, x.dim(), name);
  if (ax != x.dim() - 1) {
    // Move the axis last, normalise there, move it back: one code path for the loops.
    return transpose(softmax_impl<Log>(transpose(x, ax, -1), -1, name), ax, -1);
  }
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.dim() ? x.shape().back() : 1;
  ATTNSCALE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    ATTNSCALE_ON_CUDA(device, cuda::softmax_rows<scalar_t>(xc.device_data<scalar_t>(), n ? x.numel() / n : 0, n,
                                                           y.device_data<scalar_t>(), Log, cuda::compute_stream(device)));
    kernels::softmax_rows<scalar_t>(xc.data<scalar_t>(), n ? x.numel() / n : 0, n, y.data<scalar_t>(), Log);
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

// bf16: the row statistics and the normalisation in float32, the result rounded once.
Tensor softmax(const Tensor& x, int axis) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([axis](const Tensor& xf) { return softmax(xf, axis); }, x);
  return softmax_impl<false>(x, axis, "softmax");
}
Tensor log_softmax(const Tensor& x, int axis) {
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([axis](const Tensor& xf) { return log_softmax(xf, axis); }, x);
  return softmax_impl<true>(x, axis, "log_softmax");
}

}  // namespace attnscale

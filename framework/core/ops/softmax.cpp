#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"
#include "kernels/softmax.h"

namespace attnscale {
namespace {

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

Tensor softmax(const Tensor& x, int axis) { return softmax_impl<false>(x, axis, "softmax"); }
Tensor log_softmax(const Tensor& x, int axis) { return softmax_impl<true>(x, axis, "log_softmax"); }

}  // namespace attnscale

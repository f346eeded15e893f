#include "framework/core/ops/nn_functional.h"

#include <cmath>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"
#include "kernels/indexing.h"

#if ATTNSCALE_HAVE_CUDA
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/dropout.h"
#endif

namespace attnscale {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Reduction reduction) {
  // bf16 logits: log-softmax and the loss in float32; the loss stays float32 (its gradient is
  // rounded to bf16 where it enters the logits).
  if (ops_detail::is_bf16(logits)) return cross_entropy(logits.to(DType::f32), targets, ignore_index, reduction);
  const Device device = ops_detail::common_device("cross_entropy", {logits, targets});
  ops_detail::check_int64(targets, "cross_entropy", "targets");
  ATTNSCALE_CHECK(logits.dim() >= 1, "cross_entropy", "logits must have a class axis, got shape {}",
                  shape_str(logits.shape()));
  const Shape batch(logits.shape().begin(), logits.shape().end() - 1);
  ATTNSCALE_CHECK(targets.shape() == batch, "cross_entropy",
                  "targets shape {} must be logits shape {} without its last (class) axis", shape_str(targets.shape()),
                  shape_str(logits.shape()));
  const int64_t classes = logits.shape().back(), rows = numel_of(batch);
  const Tensor tc = targets.contiguous();
  // The targets are checked and counted on the host (one small copy from a GPU): the kernels trust them.
  const Tensor host_targets = tc.to(kCpu);
  const int64_t* t = host_targets.data<int64_t>();
  const int64_t bad = kernels::find_index_out_of_range(rows, t, classes, ignore_index);
  ATTNSCALE_CHECK(bad < 0, "cross_entropy", "target {} at position {} is out of range for {} classes (ignore_index {})",
                  bad < 0 ? 0 : t[bad], bad, classes, ignore_index);

  const Tensor lc = logits.contiguous();
  Tensor losses = Tensor::empty(batch, logits.dtype(), device);
  Tensor lse = Tensor::empty({rows}, logits.dtype(), device);
  ATTNSCALE_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    const scalar_t* x = lc.device_data<scalar_t>();
    const int64_t* target = tc.device_data<int64_t>();
    scalar_t *loss = losses.device_data<scalar_t>(), *row_lse = lse.device_data<scalar_t>();
    ATTNSCALE_ON_CUDA(device, cuda::cross_entropy_forward<scalar_t>(rows, classes, x, target, ignore_index, loss,
                                                                     row_lse, cuda::compute_stream(device)));
    kernels::cross_entropy_forward<scalar_t>(rows, classes, x, target, ignore_index, loss, row_lse);
  });
  const Tensor saved_logits = lc.detach();
  losses = autograd::record(losses, "cross_entropy", {logits}, [saved_logits, tc, lse, ignore_index](const Tensor& g) {
    const Tensor gc = g.contiguous();
    const Device device = gc.device();
    Tensor grad = Tensor::empty(saved_logits.shape(), gc.dtype(), device);
    const int64_t classes = saved_logits.shape().back(), rows = classes ? saved_logits.numel() / classes : 0;
    ATTNSCALE_DISPATCH_FLOAT(gc.dtype(), "cross_entropy", [&] {
      const scalar_t* x = saved_logits.device_data<scalar_t>();
      const int64_t* target = tc.device_data<int64_t>();
      const scalar_t *row_lse = lse.device_data<scalar_t>(), *dloss = gc.device_data<scalar_t>();
      scalar_t* dx = grad.device_data<scalar_t>();
      ATTNSCALE_ON_CUDA(device, cuda::cross_entropy_backward<scalar_t>(rows, classes, x, target, ignore_index, row_lse,
                                                                       dloss, dx, cuda::compute_stream(device)));
      kernels::cross_entropy_backward<scalar_t>(rows, classes, x, target, ignore_index, row_lse, dloss, dx);
    });
    return std::vector<Tensor>{grad};
  });

  switch (reduction) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses);
    case Reduction::mean: {
      int64_t counted = 0;
      for (int64_t r = 0; r < rows; ++r) counted += t[r] != ignore_index;
      // All targets ignored: the sum is 0 and so is the mean (and its gradient), not 0/0.
      return mul(sum(losses), counted ? 1.0 / static_cast<double>(counted) : 0.0);
    }
  }
  throw UsageError("[cross_entropy] unknown reduction");
}

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
  ATTNSCALE_CHECK(p >= 0.0 && p <= 1.0, "dropout", "probability {} is outside [0, 1]", p);
  if (!training || p == 0.0) return x;
  if (ops_detail::is_bf16(x))
    return ops_detail::bf16_via_f32([&](const Tensor& xf) { return dropout(xf, p, gen, training); }, x);
  [[maybe_unused]] const Device device = ops_detail::common_device("dropout", {x});
  const Tensor xc = x.contiguous();
  const int64_t n = xc.numel();
  const uint64_t seed = gen.seed(), first = gen.reserve(kernels::dropout_counters(n));
  const auto drop_below = static_cast<uint64_t>(std::llround(std::ldexp(p, 32)));
  const double scale = p < 1.0 ? 1.0 / (1.0 - p) : 0.0;
  auto apply = [=](const Tensor& in) {
    Tensor out = Tensor::empty(in.shape(), in.dtype(), in.device());
    ATTNSCALE_DISPATCH_FLOAT(in.dtype(), "dropout", [&] {
      // The same Philox words as the CPU: the same elements are dropped on either device.
      ATTNSCALE_ON_CUDA(device, cuda::dropout<scalar_t>(n, in.device_data<scalar_t>(), out.device_data<scalar_t>(), seed,
                                                         first, drop_below, static_cast<scalar_t>(scale),
                                                         cuda::compute_stream(device)));
      kernels::dropout<scalar_t>(n, in.data<scalar_t>(), out.data<scalar_t>(), seed, first, drop_below,
                                 static_cast<scalar_t>(scale));
    });
    return out;
  };
  Tensor out = apply(xc);
  // The backward regenerates the same mask from (seed, first) rather than storing it.
  return autograd::record(out, "dropout", {x}, [apply](const Tensor& g) {
    return std::vector<Tensor>{apply(g.contiguous())};
  });
}

}  // namespace attnscale

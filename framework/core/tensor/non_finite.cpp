#include "framework/core/tensor/non_finite.h"

#include <cmath>

#include <fmt/format.h>

#include "kernels/optim.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
#include "kernels/cuda/optim.h"
#endif

namespace attnscale {
namespace {

// Whether a GPU tensor holds a NaN or infinity, searched on the device (only the answer is copied).
[[maybe_unused]] bool device_has_non_finite(const Tensor& data) {
#if ATTNSCALE_HAVE_CUDA
  const Device device = data.device();
  Tensor first = Tensor::empty({1}, DType::i64, device);
  ATTNSCALE_DISPATCH_FLOAT(data.dtype(), "non_finite", [&] {
    cuda::first_non_finite<scalar_t>(data.numel(), data.device_data<scalar_t>(), first.device_data<int64_t>(),
                                     cuda::compute_stream(device));
  });
  return first.item() >= 0;
#else
  throw_no_kernel("non_finite", data.device());
#endif
}

}  // namespace

std::optional<NonFiniteElement> first_non_finite(std::span<const NamedTensor> tensors) {
  for (const NamedTensor& t : tensors) {
    if (!t.tensor.defined() || !is_floating(t.tensor.dtype())) continue;
    // A GPU tensor is searched where it is; only one that holds a non-finite value comes to the host
    // to be described.
    if (t.tensor.device().is_cuda() && t.tensor.numel() > 0 && !device_has_non_finite(t.tensor.contiguous()))
      continue;
    const Tensor data = t.tensor.to(kCpu).contiguous();
    std::optional<NonFiniteElement> found;
    ATTNSCALE_DISPATCH_FLOAT(data.dtype(), "non_finite", [&] {
      const scalar_t* x = data.data<scalar_t>();
      const int64_t first = kernels::first_non_finite<scalar_t>(data.numel(), x);
      if (first < 0) return;
      int64_t count = 0;
      for (int64_t i = first; i < data.numel(); ++i) count += std::isfinite(x[i]) ? 0 : 1;
      found = NonFiniteElement{t.name, t.tensor.shape(), first, static_cast<double>(x[first]), count};
    });
    if (found) return found;
  }
  return std::nullopt;
}

std::string describe(const NonFiniteElement& element) {
  return fmt::format("'{}' (shape {}) holds {} non-finite value(s), the first at flat index {} = {}", element.tensor,
                     shape_str(element.shape), element.count, element.index, element.value);
}

}  // namespace attnscale

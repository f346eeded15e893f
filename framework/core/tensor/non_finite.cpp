#include "framework/core/tensor/non_finite.h"

#include <cmath>

#include <fmt/format.h>

#include "kernels/optim.h"

namespace attnscale {

std::optional<NonFiniteElement> first_non_finite(std::span<const NamedTensor> tensors) {
  for (const NamedTensor& t : tensors) {
    if (!t.tensor.defined() || !is_floating(t.tensor.dtype())) continue;
    const Tensor data = t.tensor.contiguous();
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

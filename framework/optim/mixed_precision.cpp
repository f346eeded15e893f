#include "framework/optim/mixed_precision.h"

#include <fmt/format.h>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale {
namespace {

// The leaf `t` now holds `values` (same shape, contiguous): every handle to it sees the new
// storage and dtype, as move_to_ does for a device.
void replace_elements(const Tensor& t, const Tensor& values) {
  TensorImpl& impl = t.impl();
  impl.storage = values.storage();
  impl.strides = values.strides();
  impl.offset = values.offset();
  impl.dtype = values.dtype();
}

}  // namespace

MixedPrecision::MixedPrecision(std::vector<NamedTensor> params, DType dtype) : dtype_(dtype) {
  ATTNSCALE_CHECK(dtype == DType::f32 || dtype == DType::bf16, "mixed_precision",
                  "model.dtype is float32 or bfloat16, not {}", dtype_name(dtype));
  if (dtype == DType::f32) {
    masters_ = std::move(params);
    return;
  }
  autograd::NoGradGuard no_grad;
  for (const NamedTensor& p : params) {
    ATTNSCALE_CHECK(p.tensor.dtype() == DType::f32 && p.tensor.device().is_cpu() && !p.tensor.grad_fn(),
                    "mixed_precision", "parameter '{}' must be a float32 leaf on the CPU to train in bfloat16, got {} on {}",
                    p.name, dtype_name(p.tensor.dtype()), p.tensor.device().str());
    Tensor master = p.tensor.detach().clone();
    master.set_requires_grad(true);
    masters_.push_back({p.name, master});
    replace_elements(p.tensor, p.tensor.detach().contiguous().to(DType::bf16));
    p.tensor.zero_grad();
  }
  params_ = std::move(params);
}

void MixedPrecision::collect_gradients() {
  if (dtype_ == DType::f32) return;
  autograd::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].tensor.grad();
    if (!g.defined()) continue;
    const Tensor& master = masters_[i].tensor;
    const Tensor existing = master.grad();
    master.set_grad(existing.defined() ? add(existing, g.to(DType::f32)) : g.to(DType::f32).contiguous());
    params_[i].tensor.zero_grad();
  }
}

void MixedPrecision::refresh_model() {
  if (dtype_ == DType::f32) return;
  autograd::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) params_[i].tensor.copy_(masters_[i].tensor);
}

}  // namespace attnscale

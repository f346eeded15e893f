// Small argument checks and shape helpers shared by the op front ends in framework/core/ops/.
#pragma once

#include <fmt/format.h>

#include "framework/core/tensor/tensor.h"

namespace attnscale::ops_detail {

// Ops run their CPU kernels only; any other device gets one clear message naming the op.
inline void check_cpu(const Tensor& x, const char* op) {
  if (x.device().type != DeviceType::cpu)
    throw UsageError(fmt::format("[{}] no kernel for device {} in this build", op, x.device().str()));
}

inline void check_int64(const Tensor& index, const char* op, const char* what) {
  ATTNSCALE_CHECK(index.dtype() == DType::i64, op, "{} must be int64, got {}", what, dtype_name(index.dtype()));
}

// Strides that read `x` as if it had the broadcast shape `out` (0 on broadcast axes).
inline Shape broadcast_strides(const Tensor& x, const Shape& out) {
  Shape strides(out.size(), 0);
  const size_t lead = out.size() - x.shape().size();
  for (size_t i = 0; i < x.shape().size(); ++i)
    if (x.shape()[i] != 1) strides[lead + i] = x.strides()[i];
  return strides;
}

// A contiguous tensor seen around one axis as [outer, len, inner].
struct AxisView {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisView axis_view(const Shape& shape, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= shape[i];
  v.len = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) v.inner *= shape[i];
  return v;
}

}  // namespace attnscale::ops_detail

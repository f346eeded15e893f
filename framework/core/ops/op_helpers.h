// Small argument checks and shape helpers shared by the op front ends in framework/core/ops/.
#pragma once

#include <functional>
#include <initializer_list>

#include <fmt/format.h>

#include "framework/core/tensor/tensor.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
// Inside an op's dtype dispatch: on a GPU tensor, run the CUDA launch given and return. A build
// without CUDA never holds a GPU tensor, so the launch is left out there.
#define ATTNSCALE_ON_CUDA(device, ...) \
  if ((device).is_cuda()) {            \
    __VA_ARGS__;                       \
    return;                            \
  }
#else
#define ATTNSCALE_ON_CUDA(device, ...)
#endif

namespace attnscale::ops_detail {

using TensorRefs = std::initializer_list<std::reference_wrapper<const Tensor>>;

// The device all of `op`'s inputs are on; throws UsageError naming both devices when two differ.
inline Device common_device(const char* op, std::initializer_list<Device> devices) {
  for (const Device& d : devices)
    if (d != *devices.begin())
      throw UsageError(fmt::format("[{}] inputs are on different devices: {} and {}; move them with to(device) first",
                                   op, devices.begin()->str(), d.str()));
  return devices.size() ? *devices.begin() : kCpu;
}

// The same for tensor inputs (undefined tensors, e.g. an absent bias, are skipped).
inline Device common_device(const char* op, TensorRefs inputs) {
  const Tensor* first = nullptr;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    if (!first) first = &t;
    common_device(op, {first->device(), t.device()});
  }
  return first ? first->device() : kCpu;
}

// For ops whose kernels exist on the CPU only: the inputs share a device, and it is the CPU.
inline void check_cpu(const char* op, TensorRefs inputs) {
  const Device device = common_device(op, inputs);
  if (!device.is_cpu()) throw_no_kernel(op, device);
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

// ---- bf16 (model.dtype: bf16; docs/ARCHITECTURE.md "Precision") ----
// A bf16 tensor stores values; ops compute on them in float32. bf16 -> float32 is exact, so an op
// that converts its inputs on load and rounds its result once (round to nearest even) on store is
// an fp32 kernel with bf16 storage. Two forms:
//  - kernel level (matmul, elementwise): the op converts non-recording copies (f32_copy), runs its
//    float32 kernel and rounds the result (bf16_copy); its graph saves the bf16 tensors.
//  - op level (bf16_via_f32): the whole float32 op runs between recorded conversions; its graph
//    saves float32 copies of its inputs (more memory, same numbers).

inline bool is_bf16(const Tensor& t) { return t.defined() && t.dtype() == DType::bf16; }

// A non-recording float32 copy of a bf16 tensor; any other tensor as it is.
inline Tensor f32_copy(const Tensor& t) { return is_bf16(t) ? t.detach().to(DType::f32) : t; }

// A non-recording bf16 rounding of an op's float32 result.
inline Tensor bf16_copy(const Tensor& t) { return t.detach().to(DType::bf16); }

// Recorded conversions around a differentiable float32 op: fn(inputs in float32) rounded to bf16.
inline Tensor f32_input(const Tensor& t) { return is_bf16(t) ? t.to(DType::f32) : t; }
template <typename Fn, typename... Inputs>
Tensor bf16_via_f32(Fn&& fn, const Inputs&... inputs) {
  return fn(f32_input(inputs)...).to(DType::bf16);
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

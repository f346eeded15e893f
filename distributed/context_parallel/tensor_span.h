// The elements of a contiguous tensor as a span, for handing tensors to the raw-buffer layers
// (kernels, communicators) below the ops.
#pragma once

#include <span>

#include "framework/core/tensor/tensor.h"

namespace attnscale::cp {

template <typename T>
std::span<const T> values(const Tensor& t) {
  ATTNSCALE_CHECK(t.numel() == 0 || t.is_contiguous(), "context_parallel", "expects a contiguous tensor");
  return {t.data<T>(), static_cast<size_t>(t.numel())};
}

template <typename T>
std::span<T> mutable_values(Tensor& t) {
  ATTNSCALE_CHECK(t.numel() == 0 || t.is_contiguous(), "context_parallel", "expects a contiguous tensor");
  return {t.data<T>(), static_cast<size_t>(t.numel())};
}

// The same in the tensor's own memory, host or GPU (for the schedules written for both devices,
// which take the device along: device_ops.h).
template <typename T>
std::span<const T> device_values(const Tensor& t) {
  ATTNSCALE_CHECK(t.numel() == 0 || t.is_contiguous(), "context_parallel", "expects a contiguous tensor");
  return {t.device_data<T>(), static_cast<size_t>(t.numel())};
}

template <typename T>
std::span<T> mutable_device_values(Tensor& t) {
  ATTNSCALE_CHECK(t.numel() == 0 || t.is_contiguous(), "context_parallel", "expects a contiguous tensor");
  return {t.device_data<T>(), static_cast<size_t>(t.numel())};
}

}  // namespace attnscale::cp

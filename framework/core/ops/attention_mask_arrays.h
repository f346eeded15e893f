// The per-token mask arrays of an AttentionSpec (segments, key padding) in the memory of the device
// the attention kernels run on: the CUDA kernels read them on the GPU, the CPU kernels the spec's
// own vectors. Shared by the attention ops (attention.cpp, sparsemax.cpp): made once per call and
// kept by its backward.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "framework/core/ops/attention.h"
#include "framework/core/tensor/storage.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_runtime.h"
#endif

namespace attnscale::ops_detail {

class MaskArrays {
 public:
  MaskArrays(const AttentionSpec& spec, Device device)
      : q_segment_(on(spec.q_segment, device)), k_segment_(on(spec.k_segment, device)),
        k_valid_(on(spec.k_valid, device)) {}

  // params with its mask's spans pointing at these arrays.
  kernels::AttentionParams point(kernels::AttentionParams params) const {
    params.mask.q_segment = q_segment_.span(params.mask.q_segment);
    params.mask.k_segment = k_segment_.span(params.mask.k_segment);
    params.mask.k_valid = k_valid_.span(params.mask.k_valid);
    return params;
  }

 private:
  struct Array {
    std::shared_ptr<Storage> storage;  // null on the CPU, or for an absent part
    std::span<const int32_t> span(std::span<const int32_t> host) const {
      return storage ? std::span<const int32_t>(reinterpret_cast<const int32_t*>(storage->data()), host.size()) : host;
    }
  };
  static Array on(const std::vector<int32_t>& host, Device device) {
    if (device.is_cpu() || host.empty()) return {};
#if ATTNSCALE_HAVE_CUDA
    const size_t bytes = host.size() * sizeof(int32_t);
    auto storage = std::make_shared<Storage>(bytes, device);
    cuda::copy_bytes(storage->data(), device, host.data(), kCpu, bytes);
    return {storage};
#else
    throw_no_kernel("attention", device);
#endif
  }
  Array q_segment_, k_segment_, k_valid_;
};

}  // namespace attnscale::ops_detail

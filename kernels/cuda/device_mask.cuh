// What the attention launchers (attention.cu, sparsemax_attention.cu) share on the host side: the
// device memory of one call's flat descriptors, and the mask's flat view with device pointers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/mask.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// Device memory for one call's flat descriptors and scratch buffers, freed stream-ordered when the
// call returns (the kernels queued before that still see it). Host memory under the emulation.
class Scratch {
 public:
  explicit Scratch(Stream stream) : stream_(stream) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
#if defined(__CUDACC__)
    for (void* block : blocks_) cudaFreeAsync(block, stream_);  // no throw from a destructor
#else
    for (void* block : blocks_) ::operator delete(block);
#endif
  }

  template <typename T>
  T* allocate(size_t count) {
    void* block = nullptr;
    const size_t bytes = std::max<size_t>(count, 1) * sizeof(T);
#if defined(__CUDACC__)
    ATTNSCALE_CUDA_CHECK(cudaMallocAsync(&block, bytes, stream_));
#else
    block = ::operator new(bytes);
#endif
    blocks_.push_back(block);
    return static_cast<T*>(block);
  }

  template <typename T>
  const T* upload(std::span<const T> host) {
    T* device = allocate<T>(host.size());
#if defined(__CUDACC__)
    ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(device, host.data(), host.size_bytes(),
                                         cudaMemcpyHostToDevice, stream_));
#else
    std::copy(host.begin(), host.end(), device);
#endif
    return device;
  }

 private:
  Stream stream_;
  std::vector<void*> blocks_;
};

// The mask of params as a MaskView of batch row 0 that kernels can read: the positions expanded
// and uploaded, the block pattern uploaded; the per-token spans (segments, key padding) are device
// memory already (see kernels/cuda/attention.h).
inline kernels::MaskView device_mask_view(const kernels::AttentionParams& params, Scratch& scratch) {
  std::vector<int64_t> q_pos(static_cast<size_t>(params.shape.q_len));
  std::vector<int64_t> k_pos(static_cast<size_t>(params.shape.k_len));
  params.q_positions.fill(q_pos);
  params.k_positions.fill(k_pos);
  const kernels::Mask& mask = params.mask;
  kernels::MaskView view;
  view.rule = mask.rule();
  if (mask.blocks) {
    view.rule.blocks.allowed = scratch.upload(mask.blocks->allowed());
    view.rule.blocks.prefix = scratch.upload(mask.blocks->prefix());
  }
  view.q_pos = scratch.upload<int64_t>(q_pos);
  view.k_pos = scratch.upload<int64_t>(k_pos);
  if (mask.has_segments()) {
    view.q_segment = mask.q_segment.data();
    view.k_segment = mask.k_segment.data();
  }
  if (mask.has_key_padding()) view.k_valid = mask.k_valid.data();
  return view;
}

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

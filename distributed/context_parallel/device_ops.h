// What the context-parallel schedules do to memory besides communicating, on the host or on a GPU,
// so that each schedule is written once for both devices (no second ring for CUDA). On a GPU every
// call is queued on the device's compute stream (cuda::compute_stream) in program order; the
// communicator orders its transfers after that stream (NCCL: an event on its own stream; MPI:
// the staging copies wait for the stream), and a completed request means the data has arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "distributed/context_parallel/row_set.h"
#include "framework/core/tensor/device.h"
#include "kernels/attention.h"

namespace attnscale::cp {

// A resizable array on `device`. resize() keeps nothing when it grows (every user overwrites what
// it sized); GPU memory comes from the device's stream-ordered pool, so a block freed while a
// kernel still reads it is reused only after that kernel.
template <typename T>
class DeviceVector {
 public:
  explicit DeviceVector(Device device = kCpu) : device_(device) {}
  ~DeviceVector() { free(); }
  DeviceVector(DeviceVector&& other) noexcept;
  DeviceVector& operator=(DeviceVector&& other) noexcept;
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  void resize(std::size_t size);
  std::size_t size() const { return size_; }
  Device device() const { return device_; }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }

 private:
  void free() noexcept;

  Device device_;
  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

// Memory operations on `device` (spans in its memory).
template <typename T>
void fill(Device device, std::span<T> out, T value);
template <typename T>
void add_into(Device device, std::span<T> dst, std::span<const T> src);  // dst += src
template <typename T>
void copy_into(Device device, std::span<T> dst, std::span<const T> src);  // dst = src
// dst (device memory) = src (host memory), resized.
template <typename T>
void upload(std::span<const T> src, DeviceVector<T>& dst);

// row_set.h's gather_rows / scatter_rows on `device`.
template <typename T>
void gather_rows(Device device, std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                 const RowSet& dst_rows, int64_t outer, int64_t width);
template <typename T>
void scatter_rows(Device device, std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                  const RowSet& dst_rows, int64_t outer, int64_t width, bool add);

// The fused attention kernels (kernels/attention.h on the host, kernels/cuda/attention.h on a GPU:
// the same params and buffer conventions).
template <typename T>
void attention_forward(Device device, const kernels::AttentionParams& params,
                       const kernels::AttentionForwardBuffers<T>& io);
template <typename T>
void attention_backward(Device device, const kernels::AttentionParams& params,
                        const kernels::AttentionBackwardBuffers<T>& io);
template <typename T>
void attention_delta(Device device, std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta);

}  // namespace attnscale::cp

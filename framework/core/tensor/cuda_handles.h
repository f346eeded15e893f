// CUDA resources as RAII types (streams, events, pinned host memory, the current device). Include
// only in code compiled with the CUDA backend (ATTNSCALE_HAVE_CUDA); everything else uses
// cuda_runtime.h. Runtime calls are checked with ATTNSCALE_CUDA_CHECK (kernels/cuda/check.h).
//
// Two implementations: cuda_runtime.cpp on the CUDA runtime (nvcc builds), and
// cuda_runtime_emulation.cpp in the emulation build (ATTNSCALE_CUDA_EMULATION), where every kernel
// launch has finished when it returns: there streams and events order nothing, pinned buffers are
// plain host memory and only device 0 exists.
#pragma once

#include <cstddef>
#include <utility>

#include "framework/core/tensor/device.h"
#include "kernels/cuda/stream.h"

#if !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <cuda_runtime_api.h>

#include "kernels/cuda/check.h"
#endif

namespace attnscale::cuda {

#if defined(ATTNSCALE_CUDA_HOST_EMULATION)
struct EmulatedEvent;  // never defined: nothing to wait for
using Event = EmulatedEvent*;
#else
using Event = cudaEvent_t;
#endif

// A non-blocking stream on the device current when it was made.
class OwnedStream {
 public:
  OwnedStream();
  ~OwnedStream();
  OwnedStream(OwnedStream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  OwnedStream& operator=(OwnedStream&&) = delete;
  Stream get() const { return stream_; }
  void synchronize() const;

 private:
  Stream stream_ = nullptr;
};

// An event without timing (the cheap kind), for ordering one stream after another.
class OwnedEvent {
 public:
  OwnedEvent();
  ~OwnedEvent();
  OwnedEvent(OwnedEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}
  OwnedEvent& operator=(OwnedEvent&&) = delete;
  void record(Stream stream) const;
  void wait_on(Stream stream) const;  // `stream` waits for the recorded work
  void synchronize() const;

 private:
  Event event_ = nullptr;
};

// Page-locked host memory: host <-> device copies from it run at full bus speed and asynchronously.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  std::byte* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
};

// Makes a device current for the guard's lifetime and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// The stream every op on `device` runs on: one per GPU, so the stream order is the program order
// and the allocator's stream-ordered frees are safe.
Stream compute_stream(Device device);

}  // namespace attnscale::cuda

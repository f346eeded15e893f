// RAII owners of the CUDA and NCCL handles the NCCL backend uses (compiled only with CUDA).
// Destructors never throw; they release what they own and nothing else.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "distributed/comm/nccl_check.h"

namespace attnscale {

// Makes `device` current for a scope, then restores the previous one.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device) {
    ATTNSCALE_COMM_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) ATTNSCALE_COMM_CUDA_CHECK(cudaSetDevice(device));
  }
  ~CudaDeviceGuard() { cudaSetDevice(previous_); }
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// A non-blocking stream on `device`.
class CudaStream {
 public:
  explicit CudaStream(int device) {
    CudaDeviceGuard guard(device);
    ATTNSCALE_COMM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~CudaStream() {
    if (stream_) cudaStreamDestroy(stream_);
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaEvent {
 public:
  CudaEvent() { ATTNSCALE_COMM_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~CudaEvent() {
    if (event_) cudaEventDestroy(event_);
  }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// `bytes` of memory on `device`.
class DeviceBuffer {
 public:
  DeviceBuffer(std::size_t bytes, int device) : bytes_(bytes) {
    CudaDeviceGuard guard(device);
    if (bytes_ > 0) ATTNSCALE_COMM_CUDA_CHECK(cudaMalloc(&data_, bytes_));
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Host <-> device copies of whole buffers (synchronous), for tests and set-up code.
template <class T>
DeviceBuffer to_device(std::span<const T> host, int device) {
  DeviceBuffer buffer(host.size_bytes(), device);
  ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(buffer.get(), host.data(), buffer.bytes(), cudaMemcpyHostToDevice));
  return buffer;
}

template <class T>
std::vector<T> to_host(const DeviceBuffer& buffer) {
  std::vector<T> host(buffer.bytes() / sizeof(T));
  ATTNSCALE_COMM_CUDA_CHECK(cudaMemcpy(host.data(), buffer.get(), host.size() * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

// Owns an ncclComm_t: finalised and destroyed normally; aborted at once when an operation on it
// was abandoned (a destroy would wait for the stuck kernel forever).
class NcclCommHandle {
 public:
  NcclCommHandle() = default;
  explicit NcclCommHandle(ncclComm_t comm) : comm_(comm) {}
  NcclCommHandle(NcclCommHandle&& other) noexcept : comm_(std::exchange(other.comm_, nullptr)) {}
  NcclCommHandle& operator=(NcclCommHandle&&) = delete;
  NcclCommHandle(const NcclCommHandle&) = delete;
  ~NcclCommHandle() {
    if (!comm_) return;
    if (ncclCommFinalize(comm_) == ncclSuccess)
      ncclCommDestroy(comm_);
    else
      ncclCommAbort(comm_);
  }
  ncclComm_t get() const { return comm_; }
  void abort_now() noexcept {
    if (comm_) ncclCommAbort(std::exchange(comm_, nullptr));
  }

 private:
  ncclComm_t comm_ = nullptr;
};

}  // namespace attnscale

// A reference-counted block of memory on one device: 64-byte aligned host memory on the CPU (so
// loops vectorise), the device's caching pool on a GPU (framework/core/tensor/cuda_runtime.h).
#pragma once

#include <cstddef>
#include <memory>

#include "framework/core/tensor/device.h"

namespace attnscale {

class Storage {
 public:
  Storage(size_t bytes, Device device);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Host code may dereference data() only on a CPU storage; on a GPU it is a device pointer for
  // kernel launchers.
  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  struct Free {
    size_t bytes;
    Device device;
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t bytes_;
  Device device_;
};

}  // namespace attnscale

// A reference-counted block of device memory (64-byte aligned on the CPU, so loops vectorise).
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

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t bytes_;
  Device device_;
};

}  // namespace attnscale

// Bytes in use and their high-water mark, for one device's allocator. Plain C++ so the
// bookkeeping is tested on machines without a GPU.
#pragma once

#include <algorithm>
#include <cstddef>

#include "base/error.h"

namespace attnscale {

class MemoryCounter {
 public:
  void allocated(size_t bytes) {
    current_ += bytes;
    peak_ = std::max(peak_, current_);
  }
  // Throws when more is released than is held: a double free or a foreign pointer.
  void released(size_t bytes) {
    if (bytes > current_)
      throw RuntimeFailure(fmt::format("[device_memory] released {} bytes with only {} in use", bytes, current_));
    current_ -= bytes;
  }
  // The peak restarts from what is in use now (e.g. at the start of a step).
  void reset_peak() { peak_ = current_; }

  size_t current() const { return current_; }
  size_t peak() const { return peak_; }

 private:
  size_t current_ = 0;
  size_t peak_ = 0;
};

}  // namespace attnscale

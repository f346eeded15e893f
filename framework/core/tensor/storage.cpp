#include "framework/core/tensor/storage.h"

#include "framework/core/tensor/cuda_runtime.h"
#include "framework/core/tensor/host_allocator.h"

namespace attnscale {

void Storage::Free::operator()(std::byte* p) const {
  if (device.is_cpu())
    host_memory::release(p);
  else
    cuda::release(p, bytes, device);
}

Storage::Storage(size_t bytes, Device device)
    : data_(device.is_cpu() ? host_memory::allocate(bytes) : cuda::allocate(bytes, device), Free{bytes, device}),
      bytes_(bytes),
      device_(device) {}

}  // namespace attnscale

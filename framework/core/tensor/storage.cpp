#include "framework/core/tensor/storage.h"

#include "base/error.h"
#include "framework/core/tensor/host_allocator.h"

namespace attnscale {

void Storage::Free::operator()(std::byte* p) const { host_memory::release(p); }

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.type != DeviceType::cpu)
    throw UsageError(fmt::format("[storage] device {} is not available in this build", device.str()));
  data_.reset(host_memory::allocate(bytes));
}

}  // namespace attnscale

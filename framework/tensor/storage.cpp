#include "framework/tensor/storage.h"

#include <cstdlib>
#include <new>

#include "base/error.h"

namespace attnscale {

void Storage::Free::operator()(std::byte* p) const { std::free(p); }

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.type != DeviceType::cpu)
    throw UsageError(fmt::format("[storage] device {} is not available in this build", device.str()));
  constexpr size_t kAlign = 64;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlign, rounded == 0 ? kAlign : rounded));
  if (!p) throw RuntimeFailure(fmt::format("[storage] out of memory allocating {} bytes", bytes));
  data_.reset(p);
}

}  // namespace attnscale

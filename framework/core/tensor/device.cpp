#include "framework/core/tensor/device.h"

#include <charconv>

#include "base/error.h"

namespace attnscale {

Device parse_device(std::string_view text) {
  if (text == "cpu") return kCpu;
  if (text == "cuda") return cuda_device(0);
  constexpr std::string_view prefix = "cuda:";
  if (text.starts_with(prefix)) {
    const std::string_view digits = text.substr(prefix.size());
    int index = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() && index >= 0)
      return cuda_device(index);
  }
  throw UsageError(fmt::format("[device] '{}' is not a device: expected cpu, cuda or cuda:N", text));
}

void throw_no_kernel(std::string_view op, Device device) {
  throw UsageError(fmt::format("[{}] no kernel for device {}: the {} backend does not implement this op "
                               "(README \"GPU status\" lists what runs on the GPU)",
                               op, device.str(), device.is_cpu() ? "CPU" : "CUDA"));
}

}  // namespace attnscale

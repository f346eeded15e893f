// Where a tensor's memory lives: the host (`cpu`) or one GPU (`cuda:N`). Every op receives the
// device through its input tensors; framework/core/ops/op_helpers.h checks that they agree.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace attnscale {

enum class DeviceType { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  bool operator==(const Device&) const = default;
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  std::string str() const { return type == DeviceType::cpu ? "cpu" : fmt::format("cuda:{}", index); }
};

inline constexpr Device kCpu{};
inline constexpr Device cuda_device(int index) { return Device{DeviceType::cuda, index}; }

// "cpu", "cuda" (= cuda:0) or "cuda:N"; throws UsageError("[device] ...") for anything else.
Device parse_device(std::string_view text);

// The one message for an operation that the backend of `device` does not implement.
[[noreturn]] void throw_no_kernel(std::string_view op, Device device);

}  // namespace attnscale

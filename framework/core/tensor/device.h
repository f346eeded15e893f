// Where a tensor's memory lives. Only the CPU is implemented; a CUDA tensor is a later addition
// that must not change call sites, so every op receives the device through the tensor.
#pragma once

#include <string>

#include <fmt/format.h>

namespace attnscale {

enum class DeviceType { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  bool operator==(const Device&) const = default;
  std::string str() const { return type == DeviceType::cpu ? "cpu" : fmt::format("cuda:{}", index); }
};

inline constexpr Device kCpu{};

}  // namespace attnscale

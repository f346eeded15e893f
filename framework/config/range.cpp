#include "framework/config/range.h"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace attnscale::config {

std::string describe(const Range& range, bool integer) {
  const auto number = [integer](double v) {
    return integer ? fmt::format("{}", static_cast<std::int64_t>(v)) : fmt::format("{}", v);
  };
  const bool has_low = std::isfinite(range.low);
  const bool has_high = std::isfinite(range.high);
  if (has_low && has_high)
    return fmt::format("{}{}, {}{}", range.low_inclusive ? '[' : '(', number(range.low), number(range.high),
                       range.high_inclusive ? ']' : ')');
  if (has_low) return fmt::format("{} {}", range.low_inclusive ? ">=" : ">", number(range.low));
  if (has_high) return fmt::format("{} {}", range.high_inclusive ? "<=" : "<", number(range.high));
  return {};
}

}  // namespace attnscale::config

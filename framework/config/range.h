// The allowed interval of a numeric config key, as written in the key table (framework/config/config.h).
#pragma once

#include <limits>
#include <string>

namespace attnscale::config {

struct Range {
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  bool low_inclusive = true;
  bool high_inclusive = true;

  constexpr bool contains(double v) const {
    const bool above = low_inclusive ? v >= low : v > low;
    const bool below = high_inclusive ? v <= high : v < high;
    return above && below;
  }
};

inline constexpr Range any_value{};
constexpr Range at_least(double low) { return Range{low, any_value.high, true, true}; }
constexpr Range greater_than(double low) { return Range{low, any_value.high, false, true}; }
constexpr Range in_range(double low, double high) { return Range{low, high, true, true}; }
constexpr Range half_open(double low, double high) { return Range{low, high, true, false}; }

// ">= 1", "> 0", "[0, 1)", or "" when unbounded; integer keys print integer bounds.
std::string describe(const Range& range, bool integer);

}  // namespace attnscale::config

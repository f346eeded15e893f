#include "framework/checkpoint/format.h"

#include <charconv>

#include <fmt/format.h>

namespace attnscale::checkpoint {

std::string step_dir_name(std::int64_t step) { return fmt::format("step_{:08d}", step); }

std::optional<std::int64_t> step_of_dir_name(std::string_view name) {
  constexpr std::string_view prefix = "step_";
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  std::int64_t step = -1;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (error != std::errc() || end != digits.data() + digits.size() || step < 0) return std::nullopt;
  return step;
}

std::string rank_group(int rank) { return fmt::format("rank_{}", rank); }

}  // namespace attnscale::checkpoint

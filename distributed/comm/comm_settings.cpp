#include "distributed/comm/comm_settings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/error.h"

namespace attnscale {
namespace {

template <class T>
T parse_number(std::string_view variable, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw ConfigError(fmt::format("[comm] {}='{}' is not a number", variable, text));
  return value;
}

}  // namespace

std::chrono::milliseconds timeout_from_seconds(double seconds) {
  constexpr double year_ms = 365.0 * 24 * 3600 * 1000;
  return std::chrono::milliseconds(static_cast<long long>(std::min(std::ceil(seconds * 1000), year_ms)));
}

CommSettings CommSettings::from_env(const CommSettings& base) {
  return from_lookup([](const char* name) { return std::getenv(name); }, base);
}

CommSettings CommSettings::from_lookup(const std::function<const char*(const char*)>& lookup,
                                       const CommSettings& base) {
  CommSettings settings = base;
  if (const char* text = lookup("ATTNSCALE_COMM_TIMEOUT_S")) {
    const double seconds = parse_number<double>("ATTNSCALE_COMM_TIMEOUT_S", text);
    if (!(seconds > 0) || !std::isfinite(seconds))
      throw ConfigError(
          fmt::format("[comm] ATTNSCALE_COMM_TIMEOUT_S='{}' must be a positive number of seconds", text));
    settings.timeout = timeout_from_seconds(seconds);
  }
  if (const char* text = lookup("ATTNSCALE_FAULT_KILL_RANK")) {
    settings.fault.rank = parse_number<int>("ATTNSCALE_FAULT_KILL_RANK", text);
    if (settings.fault.rank < 0)
      throw ConfigError(fmt::format("[comm] ATTNSCALE_FAULT_KILL_RANK='{}' must be a rank >= 0", text));
  }
  if (const char* text = lookup("ATTNSCALE_FAULT_AT_OP")) {
    settings.fault.at_op = parse_number<std::int64_t>("ATTNSCALE_FAULT_AT_OP", text);
    if (settings.fault.at_op < 1)
      throw ConfigError(fmt::format("[comm] ATTNSCALE_FAULT_AT_OP='{}' must be >= 1", text));
  }
  if (const char* text = lookup("ATTNSCALE_FAULT_MODE")) {
    const std::string_view mode = text;
    if (mode == "kill")
      settings.fault.mode = FaultMode::kill;
    else if (mode == "hang")
      settings.fault.mode = FaultMode::hang;
    else
      throw ConfigError(fmt::format("[comm] ATTNSCALE_FAULT_MODE='{}' must be kill or hang", text));
  }
  return settings;
}

}  // namespace attnscale

#include "distributed/comm/comm_settings.h"

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

CommSettings CommSettings::from_env() {
  return from_lookup([](const char* name) { return std::getenv(name); });
}

CommSettings CommSettings::from_lookup(const std::function<const char*(const char*)>& lookup) {
  CommSettings settings;
  if (const char* text = lookup("ATTNSCALE_COMM_TIMEOUT_S")) {
    const double seconds = parse_number<double>("ATTNSCALE_COMM_TIMEOUT_S", text);
    if (!(seconds > 0) || !std::isfinite(seconds))
      throw ConfigError(
          fmt::format("[comm] ATTNSCALE_COMM_TIMEOUT_S='{}' must be a positive number of seconds", text));
    settings.timeout = std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
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

#include "base/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "base/error.h"

namespace attnscale {
namespace {

std::shared_ptr<spdlog::logger>& instance() {
  static std::shared_ptr<spdlog::logger> log = [] {
    auto l = std::make_shared<spdlog::logger>("attnscale",
                                              std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    l->set_pattern("[r0] %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return log;
}

int& current_rank() {
  static int rank = 0;
  return rank;
}

}  // namespace

spdlog::logger& logger() { return *instance(); }

void set_log_rank(int rank) {
  current_rank() = rank;
  instance()->set_pattern(fmt::format("[r{}] %v", rank));
}

void set_log_level(const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw UsageError(fmt::format("[logging] unknown log level '{}'", level));
  instance()->set_level(lvl);
}

void add_log_file(const std::string& path) {
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  sink->set_pattern(fmt::format("%Y-%m-%dT%H:%M:%S.%e [r{}] %l %v", current_rank()));
  instance()->sinks().push_back(std::move(sink));
  instance()->flush_on(spdlog::level::info);
}

}  // namespace attnscale

// One logger for the whole program. Every line carries the rank ("[r0]"); set_log_rank is called
// once the communicator knows it. Optional file sink for the run directory's log.txt.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace attnscale {

spdlog::logger& logger();
void set_log_rank(int rank);
void set_log_level(const std::string& level);  // trace, debug, info, warn, error, off
void add_log_file(const std::string& path);

}  // namespace attnscale

#define LOG_DEBUG(...) ::attnscale::logger().debug(__VA_ARGS__)
#define LOG_INFO(...) ::attnscale::logger().info(__VA_ARGS__)
#define LOG_WARN(...) ::attnscale::logger().warn(__VA_ARGS__)
#define LOG_ERROR(...) ::attnscale::logger().error(__VA_ARGS__)

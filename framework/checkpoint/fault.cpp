#include "framework/checkpoint/fault.h"

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "base/logging.h"

namespace attnscale::checkpoint {
namespace {

constexpr std::string_view kVariable = "ATTNSCALE_CHECKPOINT_FAULT";
constexpr SavePoint kPoints[] = {SavePoint::started,          SavePoint::model_written, SavePoint::ranks_written,
                                 SavePoint::manifest_written, SavePoint::committed,     SavePoint::latest_updated,
                                 SavePoint::pruned};

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

long long parse_number(std::string_view text, std::string_view spec, std::string_view what, long long low) {
  const std::string owned(text);
  char* end = nullptr;
  const long long value = std::strtoll(owned.c_str(), &end, 10);
  if (owned.empty() || *end != '\0' || value < low)
    throw UsageError(fmt::format("[checkpoint] {}='{}': {} must be an integer >= {}", kVariable, spec, what, low));
  return value;
}

}  // namespace

std::string_view save_point_name(SavePoint point) {
  switch (point) {
    case SavePoint::started: return "started";
    case SavePoint::model_written: return "model_written";
    case SavePoint::ranks_written: return "ranks_written";
    case SavePoint::manifest_written: return "manifest_written";
    case SavePoint::committed: return "committed";
    case SavePoint::latest_updated: return "latest_updated";
    case SavePoint::pruned: return "pruned";
  }
  return "?";
}

SaveFault SaveFault::parse(std::string_view spec) {
  SaveFault fault;
  if (spec.empty()) return fault;
  const std::vector<std::string_view> parts = split(spec, ':');
  if (parts.size() > 4)
    throw UsageError(fmt::format("[checkpoint] {}='{}': expected <point>[:<mode>[:<rank>[:<save>]]]", kVariable, spec));
  for (const SavePoint p : kPoints)
    if (save_point_name(p) == parts[0]) fault.point = p;
  if (!fault.point) {
    std::string names;
    for (const SavePoint p : kPoints) names += fmt::format("{}{}", names.empty() ? "" : ", ", save_point_name(p));
    throw UsageError(fmt::format("[checkpoint] {}='{}': unknown point '{}' (one of {})", kVariable, spec, parts[0], names));
  }
  if (parts.size() > 1) {
    if (parts[1] == "kill") fault.mode = SaveFaultMode::kill;
    else if (parts[1] == "fail") fault.mode = SaveFaultMode::fail;
    else throw UsageError(fmt::format("[checkpoint] {}='{}': mode '{}' is not kill or fail", kVariable, spec, parts[1]));
  }
  if (parts.size() > 2) fault.rank = static_cast<int>(parse_number(parts[2], spec, "the rank", 0));
  if (parts.size() > 3) fault.save = parse_number(parts[3], spec, "the save number", 1);
  return fault;
}

SaveFault SaveFault::from_env() {
  const char* spec = std::getenv(std::string(kVariable).c_str());
  return parse(spec ? spec : "");
}

void SaveFault::at(SavePoint point_reached, int rank_here, std::int64_t save_number) const {
  if (!point || *point != point_reached || rank != rank_here || save != save_number) return;
  if (mode == SaveFaultMode::fail)
    throw RuntimeFailure(fmt::format("[checkpoint] injected failure at '{}' ({})", save_point_name(point_reached), kVariable));
  LOG_WARN("[checkpoint] injected fault: killing this process at '{}' of save {} ({})", save_point_name(point_reached),
           save_number, kVariable);
  std::raise(SIGKILL);
}

}  // namespace attnscale::checkpoint

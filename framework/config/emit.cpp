// Writing a Config as YAML: every key, in table order, so that the text is stable and loads back.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "framework/config/config.h"
#include "framework/config/schema.h"

namespace attnscale {
namespace {

std::string comment_for(const config::KeyInfo& key) {
  std::string comment(key.description);
  if (key.kind == config::ValueKind::choice)
    comment += fmt::format(" | {}", fmt::join(key.choices, ", "));
  else if (const std::string range = describe(key.range, key.kind == config::ValueKind::integer); !range.empty())
    comment += fmt::format(" | {}", range);
  return comment;
}

}  // namespace

std::string to_yaml(const Config& cfg, YamlStyle style) {
  std::string out;
  for (const auto& section : config::config_sections()) {
    if (style == YamlStyle::commented) {
      if (!out.empty()) out += '\n';
      out += fmt::format("# {}\n", section.description);
    }
    out += fmt::format("{}:\n", section.name);
    std::vector<std::string> lines;
    std::size_t width = 0;
    for (const auto& key : section.keys) {
      lines.push_back(fmt::format("  {}: {}", key.name, key.text_of(cfg)));
      width = std::max(width, lines.back().size());
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (style == YamlStyle::commented)
        out += fmt::format("{:<{}}  # {}\n", lines[i], width, comment_for(section.keys[i]));
      else
        out += lines[i] + '\n';
    }
  }
  return out;
}

}  // namespace attnscale

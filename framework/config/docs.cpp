#include "framework/config/docs.h"

#include <fmt/format.h>

#include "base/error.h"
#include "framework/config/config.h"
#include "framework/config/schema.h"

namespace attnscale::config {
namespace {

// Table cells: '|' would end the cell and "<name>" would read as an HTML tag.
std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string allowed(const KeyInfo& key) {
  if (key.kind == ValueKind::choice) {
    std::string values;
    for (const auto choice : key.choices) values += fmt::format("{}`{}`", values.empty() ? "" : ", ", choice);
    return values;
  }
  if (key.kind == ValueKind::boolean) return "`true`, `false`";
  if (key.kind == ValueKind::string) return "text";
  const std::string range = describe(key.range, key.kind == ValueKind::integer);
  return range.empty() ? "any" : cell(range);
}

struct MarkerSpan {
  std::size_t content_begin;
  std::size_t content_end;
};

MarkerSpan find_markers(std::string_view readme) {
  const auto begin = readme.find(docs_begin_marker);
  const auto end = readme.find(docs_end_marker);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin)
    throw ConfigError(fmt::format("[config] the README lacks the markers '{}' and '{}'", docs_begin_marker,
                                  docs_end_marker));
  return {begin + docs_begin_marker.size(), end};
}

}  // namespace

std::string reference_markdown() {
  const Config defaults;
  std::string out = "\n";
  for (const auto& section : config_sections()) {
    out += fmt::format("### `{}`: {}\n\n", section.name, section.description);
    out += "| key | type | default | allowed | description |\n";
    out += "|---|---|---|---|---|\n";
    for (const auto& key : section.keys)
      out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", key.dotted, kind_name(key.kind),
                         key.text_of(defaults), allowed(key), cell(key.description));
    out += "\n";
  }
  return out;
}

std::string generated_section(std::string_view readme) {
  const MarkerSpan span = find_markers(readme);
  return std::string(readme.substr(span.content_begin, span.content_end - span.content_begin));
}

std::string with_generated_section(std::string_view readme, std::string_view generated) {
  const MarkerSpan span = find_markers(readme);
  return fmt::format("{}{}{}", readme.substr(0, span.content_begin), generated, readme.substr(span.content_end));
}

}  // namespace attnscale::config

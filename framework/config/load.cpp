// Reading configs: the file, its base chain and the command-line overrides, in the precedence
// defaults < base < file < overrides. Every key is type- and range-checked where it is read, so the
// error can point at the file, line and column that wrote it.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "base/error.h"
#include "base/text.h"
#include "framework/config/config.h"
#include "framework/config/schema.h"
#include "framework/config/suggest.h"
#include "framework/config/value.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;
using config::fail;

constexpr std::string_view base_key = "base";

std::string location(const fs::path& file, const YAML::Mark& mark) {
  return fmt::format("{}:{}:{}", file.string(), mark.line + 1, mark.column + 1);
}

std::string node_kind(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  return fmt::format("'{}'", excerpt(node.Scalar()));
}

// A top-level name that is no section: a key written outside its section, or a misspelled section.
std::string suggest_section(std::string_view name) {
  for (const auto& key : config::config_keys())
    if (key.name == name) return fmt::format("; did you mean '{}'? (keys go inside their section)", key.dotted);
  std::vector<std::string_view> names{base_key};
  for (const auto& section : config::config_sections()) names.push_back(section.name);
  if (const auto guess = config::closest_match(name, names); !guess.empty())
    return fmt::format("; did you mean '{}'?", guess);
  return {};
}

// "did you mean" for a key written in the wrong place or misspelled: first the section's own keys,
// then the same name in another section.
std::string suggest_key(std::string_view section, std::string_view name) {
  std::vector<std::string_view> own;
  if (const auto* info = config::find_section(section))
    for (const auto& key : info->keys) own.push_back(key.name);
  if (const auto guess = config::closest_match(name, own); !guess.empty())
    return fmt::format("; did you mean '{}.{}'?", section, guess);
  for (const auto& key : config::config_keys())
    if (key.name == name) return fmt::format("; did you mean '{}'?", key.dotted);
  std::vector<std::string_view> dotted;
  for (const auto& key : config::config_keys()) dotted.push_back(key.dotted);
  const std::string written = fmt::format("{}.{}", section, name);
  if (const auto guess = config::closest_match(written, dotted); !guess.empty())
    return fmt::format("; did you mean '{}'?", guess);
  return {};
}

// The lines before and at a syntax error, numbered, with a caret under its column: the culprit is
// often a line or two above where the parser noticed (an unclosed bracket). Lines are cut and
// escaped (a binary file given by mistake); the caret stands where the line is shown as written.
std::string source_excerpt(const std::string& text, const YAML::Mark& mark) {
  constexpr std::size_t kShown = 120;
  std::istringstream in(text);
  std::string lines, line, error_line;
  for (int number = 0; std::getline(in, line) && number <= mark.line; ++number) {
    if (number < mark.line - 2) continue;
    lines += fmt::format("\n  {:>4} | {}", number + 1, excerpt(line, kShown));
    error_line = line;
  }
  const auto column = static_cast<std::size_t>(std::max(mark.column, 0));
  const std::string_view before = std::string_view(error_line).substr(0, std::min(column, error_line.size()));
  if (column < kShown && excerpt(before, kShown) == before)
    return lines + fmt::format("\n       | {:>{}}", "^", column + 1);
  return lines + fmt::format("\n       | (column {})", column + 1);
}

config::ScalarText scalar_text(const YAML::Node& key_node, const YAML::Node& value, const fs::path& file) {
  config::ScalarText scalar;
  scalar.null = value.IsNull();
  // An empty value has the mark of whatever follows it; point at the key instead.
  scalar.where = location(file, scalar.null ? key_node.Mark() : value.Mark());
  if (!scalar.null) {
    scalar.text = value.Scalar();
    scalar.quoted = value.Tag() == "!" || value.Tag() == "tag:yaml.org,2002:str";
  }
  return scalar;
}

class Loader {
 public:
  explicit Loader(Config& cfg) : cfg_(cfg) {}

  // display: the path as the user sees it (relative to the current directory or absolute).
  void load_file(const fs::path& display, const std::string& included_at) {
    std::error_code ec;
    fs::path identity = fs::weakly_canonical(display, ec);  // the same file however it is reached
    if (ec) identity = fs::absolute(display).lexically_normal();
    for (std::size_t i = 0; i < chain_.size(); ++i) {
      if (chain_[i] != identity) continue;
      std::string cycle;
      for (std::size_t j = i; j < chain_display_.size(); ++j) cycle += chain_display_[j].string() + " -> ";
      fail(base_key, fmt::format("cyclic base: {}{}", cycle, display.string()), included_at);
    }
    const YAML::Node root = parse(display, read(display, included_at));
    chain_.push_back(identity);
    chain_display_.push_back(display);
    apply_document(root, display);
    chain_.pop_back();
    chain_display_.pop_back();
  }

 private:
  static std::string read(const fs::path& file, const std::string& included_at) {
    std::error_code ec;
    const bool is_file = fs::is_regular_file(file, ec);
    std::ifstream in(file, std::ios::binary);
    if (!is_file || !in) {
      const std::string why = fs::exists(file, ec) ? "is not a readable file" : "not found";
      if (included_at.empty())
        throw ConfigError(fmt::format("[config] config file '{}' {}", file.string(), why));
      fail(base_key, fmt::format("base file '{}' {}", file.string(), why), included_at);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  static YAML::Node parse(const fs::path& file, const std::string& text) {
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
      const std::string excerpt = source_excerpt(text, e.mark);
      const std::string tab_hint =
          excerpt.find('\t') != std::string::npos && e.msg.find("tab") == std::string::npos
              ? "; YAML does not allow tabs for indentation"
              : "";
      throw ConfigError(fmt::format("[config] YAML syntax error: {}{} ({}){}", e.msg, tab_hint,
                                    location(file, e.mark), excerpt));
    }
    if (documents.size() > 1)
      throw ConfigError(fmt::format("[config] '{}' holds {} YAML documents; a config is one document",
                                    file.string(), documents.size()));
    const YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
    if (!root.IsNull() && !root.IsMap())
      throw ConfigError(fmt::format("[config] expected a mapping of sections (run:, model:, ...), got {} ({})",
                                    node_kind(root), location(file, root.Mark())));
    return root;
  }

  // Rejects a key written twice in one mapping: YAML libraries disagree on which one wins.
  static void check_duplicates(const YAML::Node& mapping, const fs::path& file, std::string_view prefix) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : mapping) {
      const std::string name = entry.first.Scalar();
      const auto [it, inserted] = seen.emplace(name, entry.first.Mark());
      if (!inserted)
        fail(prefix.empty() ? name : fmt::format("{}.{}", prefix, name),
             fmt::format("duplicate key (first written at line {})", it->second.line + 1),
             location(file, entry.first.Mark()));
    }
  }

  void apply_document(const YAML::Node& root, const fs::path& file) {
    if (root.IsNull()) return;
    check_duplicates(root, file, "");
    // The base goes first wherever it is written, so that this file overrides it.
    for (const auto& entry : root) {
      if (entry.first.Scalar() != base_key) continue;
      const YAML::Node& value = entry.second;
      const std::string where = location(file, value.IsNull() ? entry.first.Mark() : value.Mark());
      if (!value.IsScalar() || value.Scalar().empty())
        fail(base_key, fmt::format("expected a file name, got {}", node_kind(value)), where);
      const fs::path base = fs::path(value.Scalar());
      load_file(base.is_absolute() ? base : (file.parent_path() / base).lexically_normal(), where);
    }
    for (const auto& entry : root) {
      const std::string name = entry.first.Scalar();
      if (name == base_key) continue;
      const auto* section = config::find_section(name);
      if (section == nullptr)
        fail(excerpt(name), "unknown section" + suggest_section(name), location(file, entry.first.Mark()));
      apply_section(*section, entry.second, file);
    }
  }

  void apply_section(const config::SectionInfo& section, const YAML::Node& body, const fs::path& file) {
    if (body.IsNull()) return;
    if (!body.IsMap())
      fail(section.name, fmt::format("expected a mapping of keys, got {}", node_kind(body)),
           location(file, body.Mark()));
    check_duplicates(body, file, section.name);
    for (const auto& entry : body) {
      const std::string name = entry.first.Scalar();
      const std::string dotted = fmt::format("{}.{}", section.name, name);
      const auto* key = config::find_key(dotted);
      if (key == nullptr)
        fail(excerpt(dotted), "unknown key" + suggest_key(section.name, name), location(file, entry.first.Mark()));
      if (!entry.second.IsNull() && !entry.second.IsScalar())
        fail(dotted, fmt::format("expected a single value, got {}", node_kind(entry.second)),
             location(file, entry.second.Mark()));
      const config::ScalarText scalar = scalar_text(entry.first, entry.second, file);
      key->assign(cfg_, scalar, *key);
      cfg_.origins.insert_or_assign(key->dotted, scalar.where);
    }
  }

  Config& cfg_;
  std::vector<fs::path> chain_;          // canonical paths of the files being read, outermost first
  std::vector<fs::path> chain_display_;  // the same, as the user sees them
};

}  // namespace

void apply_override(Config& cfg, std::string_view assignment) {
  const std::string where = fmt::format("command line '{}'", assignment);
  const auto equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0)
    throw ConfigError(fmt::format("[config] bad override '{}': expected section.key=value", assignment));
  const std::string_view dotted = assignment.substr(0, equals);
  const auto* key = config::find_key(dotted);
  if (key == nullptr) {
    const auto dot = dotted.find('.');
    std::string problem = "unknown key";
    if (dot == std::string_view::npos) {
      problem += suggest_key("", dotted);
      if (problem == "unknown key") problem += "; overrides are written section.key=value";
    } else {
      problem += suggest_key(dotted.substr(0, dot), dotted.substr(dot + 1));
    }
    fail(dotted, problem, where);
  }
  config::ScalarText scalar;
  scalar.text = std::string(assignment.substr(equals + 1));
  scalar.null = scalar.text.empty();
  scalar.where = where;
  key->assign(cfg, scalar, *key);
  cfg.origins.insert_or_assign(key->dotted, where);
}

Config load_config(const std::filesystem::path& file, std::span<const std::string> overrides) {
  Config cfg;
  Loader(cfg).load_file(file, "");
  for (const std::string& assignment : overrides) apply_override(cfg, assignment);
  validate(cfg);
  return cfg;
}

}  // namespace attnscale

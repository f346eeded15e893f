// attnscale config show|defaults|docs: the resolved config, every key's default, and the key
// reference of configs/README.md.
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"
#include "base/error.h"
#include "framework/config/config.h"
#include "framework/config/docs.h"

namespace attnscale::app {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("[config] cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void add_show(CLI::App& parent) {
  auto* command = parent.add_subcommand(
      "show", "print the resolved config (file, its bases and the overrides); it loads back unchanged");
  auto args = add_config_arguments(*command);
  auto comments = std::make_shared<bool>(false);
  command->add_flag("--comments", *comments, "append each key's description and allowed values");
  command->callback([args, comments] {
    const Config cfg = load_config(args->file, args->overrides);
    fmt::print("{}", to_yaml(cfg, *comments ? YamlStyle::commented : YamlStyle::plain));
  });
}

void add_defaults(CLI::App& parent) {
  auto* command = parent.add_subcommand("defaults", "print every key with its default and description");
  command->callback([] { fmt::print("{}", to_yaml(Config{}, YamlStyle::commented)); });
}

void add_docs(CLI::App& parent) {
  auto* command = parent.add_subcommand("docs", "print the key reference of configs/README.md");
  auto readme = std::make_shared<std::string>();
  command->add_option("--update", *readme, "rewrite the generated part of this README in place");
  command->callback([readme] {
    const std::string reference = config::reference_markdown();
    if (readme->empty()) {
      fmt::print("{}", reference);
      return;
    }
    const std::string updated = config::with_generated_section(read_text(*readme), reference);
    std::ofstream out(*readme, std::ios::binary | std::ios::trunc);
    out << updated;
    if (!out.flush()) throw RuntimeFailure(fmt::format("[config] cannot write {}", *readme));
  });
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto* command = app.add_subcommand("config", "inspect configs: show, defaults, docs");
  command->require_subcommand(1);
  add_show(*command);
  add_defaults(*command);
  add_docs(*command);
}

}  // namespace attnscale::app

// attnscale version: the program version.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"

namespace attnscale::app {

void add_version_command(CLI::App& app) {
  auto* command = app.add_subcommand("version", "print the program version");
  command->callback([] { fmt::print("attnscale {}\n", ATTNSCALE_VERSION); });
}

}  // namespace attnscale::app

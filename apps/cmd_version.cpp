// attnscale version: the program version, what was compiled in (backends, CUDA architectures,
// library versions) and what this machine offers (driver, GPUs).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"
#include "framework/core/tensor/build_info.h"

namespace attnscale::app {

void add_version_command(CLI::App& app) {
  auto* command = app.add_subcommand("version", "print the program version, backends, CUDA architectures and library versions");
  command->callback([] { fmt::print("{}", format_build_info(build_info())); });
}

}  // namespace attnscale::app

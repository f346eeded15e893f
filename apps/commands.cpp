#include "apps/commands.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace attnscale::app {

int run(int argc, char** argv) {
  CLI::App app{"attnscale: attention models on sequences too long for one device"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "print the program version");
  version->callback([] { fmt::print("attnscale {}\n", ATTNSCALE_VERSION); });
  add_op_check_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return 0;
}

}  // namespace attnscale::app

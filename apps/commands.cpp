#include "apps/commands.h"

#include <CLI/CLI.hpp>

#include "base/error.h"

namespace attnscale::app {

std::shared_ptr<ConfigArguments> add_config_arguments(CLI::App& command) {
  auto args = std::make_shared<ConfigArguments>();
  command.add_option("config", args->file, "YAML config file (see configs/README.md)")->required();
  command.add_option("overrides", args->overrides,
                     "overrides applied after the file, in order: section.key=value (e.g. optim.lr=3e-4)");
  return args;
}

int run(int argc, char** argv) {
  CLI::App app{"attnscale: attention models on sequences too long for one device"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 data error, 4 checkpoint error.\n"
      "Configs: precedence defaults < base < file < command-line overrides; see configs/README.md.");
  add_train_command(app);
  add_eval_command(app);
  add_generate_command(app);
  add_checkpoint_command(app);
  add_prepare_command(app);
  add_config_command(app);
  add_op_check_command(app);
  add_version_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are ParseErrors with exit code 0; every other one is a usage error.
    return app.exit(e) == 0 ? static_cast<int>(ExitCode::ok) : static_cast<int>(ExitCode::usage);
  }
  return static_cast<int>(ExitCode::ok);
}

}  // namespace attnscale::app

// The attnscale program: one subcommand per file, apps/cmd_<name>.cpp, each registering itself with
// add_<name>_command; run() calls them in the order of the help text. Adding a command: write the
// file, declare its add_ function here, call it in commands.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace attnscale::app {

// Parses the command line and runs the chosen subcommand; returns the exit code. Exceptions derived
// from attnscale::Error leave through here; main maps them to exit codes.
int run(int argc, char** argv);

void add_config_command(CLI::App& app);
void add_version_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_op_check_command(CLI::App& app);
void add_checkpoint_command(CLI::App& app);
void add_prepare_command(CLI::App& app);

// The "CONFIG [section.key=value ...]" arguments shared by train, eval and config show.
struct ConfigArguments {
  std::string file;
  std::vector<std::string> overrides;
};
// Adds the two positional arguments to a subcommand; the returned object is filled by the parse.
std::shared_ptr<ConfigArguments> add_config_arguments(CLI::App& command);

}  // namespace attnscale::app

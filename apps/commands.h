#pragma once

namespace CLI {
class App;
}

namespace attnscale::app {

void add_op_check_command(CLI::App& app);  // apps/cmd_op_check.cpp

// Parses the command line and runs the chosen subcommand; returns the exit code.
int run(int argc, char** argv);

}  // namespace attnscale::app

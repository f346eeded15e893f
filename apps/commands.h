#pragma once

namespace attnscale::app {

// Parses the command line and runs the chosen subcommand; returns the exit code.
int run(int argc, char** argv);

}  // namespace attnscale::app

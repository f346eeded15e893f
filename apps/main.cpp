// attnscale: the command-line program. Subcommands live in apps/cmd_*.cpp; this file maps
// exceptions to the documented exit codes (README "Exit codes").
#include <cstdio>
#include <exception>

#include "apps/commands.h"
#include "base/error.h"
#include "kernels/isa.h"

int main(int argc, char** argv) {
  try {
    attnscale::kernels::active_isa();  // a bad ATTNSCALE_ISA is a usage error (exit 2) before anything runs
    return attnscale::app::run(argc, argv);
  } catch (const attnscale::Error& e) {
    if (*e.what() != '\0') std::fprintf(stderr, "error: %s\n", e.what());
    return static_cast<int>(e.exit_code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return static_cast<int>(attnscale::ExitCode::failure);
  }
}

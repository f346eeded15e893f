#include "distributed/comm/mpi_check.h"

#include <mpi.h>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return fmt::format("MPI error code {}", code);
  return std::string(text, static_cast<std::size_t>(length));
}

void throw_mpi_error(const char* call, const char* file, int line, int code) {
  throw RuntimeFailure(fmt::format("[mpi] {} failed at {}:{}: {}", call, file, line, mpi_error_string(code)));
}

}  // namespace attnscale

// Every MPI call is checked: ATTNSCALE_MPI_CHECK(MPI_Isend(...)) throws RuntimeFailure
// "[mpi] MPI_Isend(...) failed at distributed/comm/mpi_communicator.cpp:42: <MPI's error string>".
// Communicators set MPI_ERRORS_RETURN so that errors reach this macro instead of aborting.
#pragma once

#include <string>

namespace attnscale {

// MPI's text for an error code ("MPI_ERR_RANK: invalid rank").
std::string mpi_error_string(int code);

[[noreturn]] void throw_mpi_error(const char* call, const char* file, int line, int code);

}  // namespace attnscale

#define ATTNSCALE_MPI_CHECK(call)                                                  \
  do {                                                                             \
    const int attnscale_mpi_rc_ = (call);                                          \
    if (attnscale_mpi_rc_ != MPI_SUCCESS)                                          \
      ::attnscale::throw_mpi_error(#call, __FILE__, __LINE__, attnscale_mpi_rc_); \
  } while (0)

// test_comm runs without mpirun: each test process initialises MPI as a singleton (1 rank) on
// first use and finalises it at exit, which is exactly the "one rank needs no mpirun" contract.
#pragma once

#include "distributed/comm/mpi_environment.h"

namespace attnscale::test {

inline MpiEnvironment& mpi_singleton() {
  static MpiEnvironment environment;
  return environment;
}

}  // namespace attnscale::test

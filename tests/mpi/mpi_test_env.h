// What every test in test_mpi shares. Each test body is collective: every rank runs it, in the
// same order, and must reach the same collectives.
#pragma once

#include <memory>
#include <string>

#include "distributed/comm/mpi_communicator.h"

namespace attnscale::test {

// The world communicator main() created. Its timeout (60 s unless ATTNSCALE_COMM_TIMEOUT_S says
// otherwise) turns a test that deadlocks into a failure instead of a hang.
MpiCommunicator& world();

// A fresh communicator over the same ranks, so that a test's messages and counters are its own.
std::unique_ptr<Communicator> fresh_comm(const std::string& name = "test");

}  // namespace attnscale::test

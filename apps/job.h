// What `train` and `eval` share: reading the config before MPI starts, the world-size check right
// after, run_job for every later failure, and this rank's place in the process grid.
#pragma once

#include <functional>
#include <memory>

#include "apps/commands.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/process_grid.h"
#include "framework/config/config.h"
#include "framework/train/parallel_context.h"

namespace attnscale::app {

// parallel.timeout_s, unless ATTNSCALE_COMM_TIMEOUT_S overrides it, and the fault plan.
CommSettings comm_settings(const Config& cfg);

// The world communicator, the grid built from parallel.*, and the context tasks read it through.
struct RankSetup {
  RankSetup(const Config& cfg, const MpiEnvironment& mpi);

  MpiCommunicator world;
  ProcessGrid grid;
  train::ParallelContext parallel;
};

// Loads the config (every rank fails alike before MPI starts), starts MPI, checks the world size
// (every rank alike, before any collective: each exits 2 on its own) and runs `job` under run_job.
// Throws ExitStatus with the job's exit code when it is not 0.
void run_config_job(const ConfigArguments& args,
                    const std::function<int(const Config&, const MpiEnvironment&)>& job);

}  // namespace attnscale::app

// What `train`, `eval` and `generate` share: reading the config before MPI starts, the world-size check right
// after, run_job for every later failure, and this rank's place in the process grid.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "apps/commands.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/process_grid.h"
#include "framework/config/config.h"
#include "framework/nn/module.h"
#include "framework/train/parallel_context.h"

namespace attnscale::app {

// parallel.timeout_s, unless ATTNSCALE_COMM_TIMEOUT_S overrides it, and the fault plan.
CommSettings comm_settings(const Config& cfg);

// The world communicator, the grid built from parallel.*, and the context tasks read it through
// (with this rank's device: a GPU chosen by local rank when run.device = cuda).
struct RankSetup {
  RankSetup(const Config& cfg, const MpiEnvironment& mpi);

  MpiCommunicator world;  // host buffers: the launcher's communicator, metrics, checkpoints
  Device device;          // this rank's (kCpu, or its GPU)
  // On a GPU, the communicator of world's ranks that takes device buffers (NCCL, or MPI staged
  // through pinned host memory: distributed/device_communicator.h); null on the CPU.
  std::unique_ptr<Communicator> device_world;
  // Over device_world when there is one, so that its dp / cp / ring / ulysses communicators (the
  // gradient all-reduce, the attention schedules) move device buffers.
  ProcessGrid grid;
  train::ParallelContext parallel;
};

// The checkpoint train.resume names (a checkpoint directory, or auto = the newest valid one in
// checkpoint.dir / run.dir) loaded into `model` (parameters and buffers), warning "[<who>] ..." for
// each setting that differs from the checkpoint's config. ConfigError for train.resume = none,
// CheckpointError when no valid checkpoint is found.
struct LoadedCheckpoint {
  std::filesystem::path dir;
  int64_t step = 0;
};
LoadedCheckpoint load_checkpoint_into(const Config& cfg, nn::Module& model, const char* who);
// Its first check, for commands to call before they build anything.
void require_checkpoint(const Config& cfg, const char* who);

// Loads the config (every rank fails alike before MPI starts), starts MPI, checks the world size and
// that run.device = cuda finds a GPU (every rank alike, before any collective: each exits 2 on its
// own) and runs `job` under run_job.
// Throws ExitStatus with the job's exit code when it is not 0.
void run_config_job(const ConfigArguments& args,
                    const std::function<int(const Config&, const MpiEnvironment&)>& job);

}  // namespace attnscale::app

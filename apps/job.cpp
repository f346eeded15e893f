#include "apps/job.h"

#include <unistd.h>

#include <array>
#include <chrono>

#include "base/logging.h"
#include "base/threads.h"
#include "distributed/comm/node_info.h"
#include "distributed/device_communicator.h"
#include "framework/checkpoint/config.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/select.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "framework/io/run_dir.h"
#include "framework/train/from_config.h"

namespace attnscale::app {
namespace {

// run.device = cuda on a machine whose runtime sees no GPU is a usage error, never a CPU run.
void require_device(const Config& cfg) {
  if (cfg.run.device != config::RunDevice::cuda) return;
  const cuda::Availability available = cuda::probe();
  if (available.device_count == 0)
    throw ConfigError(
        fmt::format("[device] run.device = cuda, but {} (train on the CPU with run.device=cpu)", available.reason));
}

std::string host_name() {
  std::array<char, 256> name{};
  return gethostname(name.data(), name.size() - 1) == 0 ? std::string(name.data()) : std::string("unknown host");
}

// Ranks on a node share its GPUs round robin by local rank.
Device rank_device(const Config& cfg, const NodeInfo& node, int world_rank) {
  if (cfg.run.device != config::RunDevice::cuda) return kCpu;
  const Device device = cuda_device(cuda::gpu_for_local_rank(node.local_rank, cuda::probe().device_count));
  cuda::set_current(device);
  cuda::set_allow_tf32(cfg.run.allow_tf32);
  LOG_INFO("rank {} (local rank {} of {}) on {}: GPU {}: {}{}", world_rank, node.local_rank, node.local_size,
           host_name(), device.index, cuda::describe(cuda::properties(device)),
           cfg.run.allow_tf32 ? ", TF32 GEMMs allowed" : "");
  return device;
}

}  // namespace

CommSettings comm_settings(const Config& cfg) {
  CommSettings base;
  base.timeout = timeout_from_seconds(cfg.parallel.timeout_s);
  return CommSettings::from_env(base);  // ATTNSCALE_COMM_TIMEOUT_S overrides the key
}

RankSetup::RankSetup(const Config& cfg, const MpiEnvironment& mpi)
    : world(MPI_COMM_WORLD, comm_settings(cfg), "world"),
      device(rank_device(cfg, node_info(), mpi.world_rank())),
      device_world(device.is_cuda() ? make_device_communicator(world, device, "world").comm : nullptr),
      grid(device_world ? *device_world : world,
           GridShape::for_world(mpi.world_size(), static_cast<int>(cfg.parallel.cp),
                                static_cast<int>(cfg.parallel.ulysses))) {
  const NodeInfo node = node_info();
  set_thread_count(static_cast<int>(cfg.train.threads), node.local_size);
  parallel.device = device;
  // Every task splits its batches over the dp ranks; validate() has refused parallel.cp > 1 for the
  // models that cannot shard a sequence.
  parallel.world = &world;
  parallel.grid = &grid;
  parallel.layout = train::layout_kind(cfg);
}

void run_config_job(const ConfigArguments& args,
                    const std::function<int(const Config&, const MpiEnvironment&)>& job) {
  const Config cfg = load_config(args.file, args.overrides);
  set_log_level(std::string(config::to_string(cfg.logging.level)));
  int code = 0;
  {
    MpiEnvironment mpi;
    try {
      validate_world_size(cfg, mpi.world_size());
      require_device(cfg);
      code = run_job([&] { return job(cfg, mpi); });
    } catch (const ConfigError& e) {
      // Every rank fails identically here, before any collective: each exits on its own, and MPI
      // is finalised normally instead of aborting the job.
      LOG_ERROR("{}", e.what());
      code = static_cast<int>(e.exit_code());
    }
  }
  if (code != 0) throw ExitStatus(code);
}

void require_checkpoint(const Config& cfg, const char* who) {
  if (cfg.train.resume == "none")
    throw ConfigError(fmt::format("[config] train.resume: attnscale {} needs a checkpoint: a checkpoint directory, or "
                                  "auto (with run.dir or checkpoint.dir set)",
                                  who));
}

LoadedCheckpoint load_checkpoint_into(const Config& cfg, nn::Module& model, const char* who) {
  require_checkpoint(cfg, who);
  const RunDir run_dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
  std::vector<std::string> skipped;
  const auto reader = checkpoint::select_checkpoint(cfg.train.resume, run_dir.checkpoint_dir, skipped);
  for (const std::string& reason : skipped) LOG_WARN("[{}] skipped an invalid checkpoint: {}", who, reason);
  if (!reader)
    throw CheckpointError(fmt::format("[{}] no valid checkpoint in {}", who, run_dir.checkpoint_dir.string()));
  for (const std::string& warning : checkpoint::check_resumable(reader->manifest().config_yaml, cfg,
                                                                reader->dir() / checkpoint::kManifestFile))
    LOG_WARN("[{}] config differs from the checkpoint's: {}", who, warning);
  const auto model_file = reader->dir() / checkpoint::kModelFile;
  checkpoint::load_named_tensors(model.named_parameters(), reader->read_group(checkpoint::kParamsGroup), "parameter",
                                 model_file);
  checkpoint::load_named_tensors(model.named_buffers(), reader->read_group(checkpoint::kBuffersGroup), "buffer",
                                 model_file);
  return {reader->dir(), reader->manifest().step};
}

}  // namespace attnscale::app

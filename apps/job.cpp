#include "apps/job.h"

#include "base/logging.h"
#include "base/threads.h"
#include "distributed/comm/node_info.h"

namespace attnscale::app {

CommSettings comm_settings(const Config& cfg) {
  CommSettings base;
  base.timeout = timeout_from_seconds(cfg.parallel.timeout_s);
  return CommSettings::from_env(base);  // ATTNSCALE_COMM_TIMEOUT_S overrides the key
}

RankSetup::RankSetup(const Config& cfg, const MpiEnvironment& mpi)
    : world(MPI_COMM_WORLD, comm_settings(cfg), "world"),
      grid(world, GridShape::for_world(mpi.world_size(), static_cast<int>(cfg.parallel.cp),
                                       static_cast<int>(cfg.parallel.ulysses))) {
  set_thread_count(static_cast<int>(cfg.train.threads), node_info().local_size);
  // Every task splits its batches over the dp ranks; validate() has refused parallel.cp > 1 for the
  // models that cannot shard a sequence.
  parallel.world = &world;
  parallel.grid = &grid;
  parallel.layout = kernels::parse_layout_kind(std::string(config::to_string(cfg.parallel.layout)).c_str());
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

}  // namespace attnscale::app

// bench_comm: MpiCommunicator point-to-point bandwidth and compute/transfer overlap, 2 ranks.
//
// Build and run (by hand; it is not part of CTest):
//   ninja -C build bench_comm
//   OMP_NUM_THREADS=1 mpirun -n 2 --oversubscribe build/bin/bench_comm [--json FILE] [--quick]
//   (as root add --allow-run-as-root, or export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
//
// 1. Bandwidth: rank 0 and rank 1 exchange S bytes each way with isendrecv, S = 4 KiB .. 64 MiB.
//    References measured in the same run: a plain blocking MPI_Sendrecv of the same bytes (the
//    cost of attnscale's polling, timeout and counters is the ratio to it) and memcpy of S bytes
//    on one rank (the shared-memory transport copies at least once). Printed: GB/s per direction
//    and both ratios.
// 2. Overlap (DESIGN.md 9): an 8 MiB exchange started before a tiled computation that lasts
//    about 1.5x the transfer, waited for after it. Without progress calls MPI does not move the
//    data during the computation; with Communicator::progress() between tiles it does. Reference:
//    the computation alone and the transfer alone, measured in the same run. Printed per variant:
//    the time still blocked in wait() after the computation (the part of the transfer not
//    hidden; its share of the transfer alone), and the end-to-end hidden share
//    (t_compute + t_transfer - t_total) / t_transfer, which also charges the CPU time the
//    shared-memory copy itself takes inside progress calls.
// A custom harness instead of Google Benchmark's loop: both ranks must run identical iteration
// counts, which Google Benchmark's adaptive iteration choice does not guarantee.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "benchmarks/json_report.h"

namespace attnscale {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Options {
  std::string json_path;
  bool quick = false;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" && i + 1 < argc) {
      options.json_path = argv[++i];
    } else if (arg == "--quick") {
      options.quick = true;
    } else {
      throw UsageError(fmt::format("[bench_comm] unknown argument '{}' (use --json FILE, --quick)", arg));
    }
  }
  return options;
}

// Repetitions so that each size moves about 256 MiB (fewer with --quick), same on both ranks.
int repetitions(std::size_t bytes, bool quick) {
  const std::size_t budget = (quick ? 32u : 256u) << 20;
  return static_cast<int>(std::clamp<std::size_t>(budget / bytes, 3, 2000));
}

// Best of three batches of `reps`, in seconds per call: the least disturbed by other processes.
template <class F>
double best_time_per_call(int reps, F&& call) {
  double best = 1e30;
  for (int batch = 0; batch < 3; ++batch) {
    const auto start = Clock::now();
    for (int i = 0; i < reps; ++i) call();
    best = std::min(best, seconds_since(start) / reps);
  }
  return best;
}

nlohmann::json bench_bandwidth(MpiCommunicator& comm, bool quick) {
  const int peer = 1 - comm.rank();
  nlohmann::json rows = nlohmann::json::array();
  if (comm.rank() == 0)
    std::printf("%-10s %12s %11s %13s %13s %12s\n", "bytes", "us/exchange", "GB/s (dir)", "MPI_Sendrecv",
                "vs MPI raw", "vs memcpy");
  for (std::size_t bytes = 4u << 10; bytes <= (64u << 20); bytes *= 4) {
    std::vector<std::uint8_t> out(bytes, static_cast<std::uint8_t>(comm.rank())), in(bytes);
    const int reps = repetitions(bytes, quick);
    comm.sendrecv(out, peer, in, peer);  // warm-up: connection and page faults
    comm.barrier();
    const double exchange = best_time_per_call(reps, [&] { comm.sendrecv(out, peer, in, peer); });
    const double raw = best_time_per_call(reps, [&] {
      MPI_Sendrecv(out.data(), static_cast<int>(bytes), MPI_BYTE, peer, 0, in.data(), static_cast<int>(bytes), MPI_BYTE,
                   peer, 0, comm.handle(), MPI_STATUS_IGNORE);
    });
    const double copy = best_time_per_call(reps, [&] {
      std::memcpy(in.data(), out.data(), bytes);
      asm volatile("" : : "r"(in.data()) : "memory");  // keep the copy
    });
    const double gbps = static_cast<double>(bytes) / exchange / 1e9;
    const double raw_gbps = static_cast<double>(bytes) / raw / 1e9;
    const double memcpy_gbps = static_cast<double>(bytes) / copy / 1e9;
    if (comm.rank() == 0)
      std::printf("%-10zu %12.2f %11.2f %13.2f %13.2f %12.3f\n", bytes, exchange * 1e6, gbps, raw_gbps,
                  gbps / raw_gbps, gbps / memcpy_gbps);
    rows.push_back({{"bytes", bytes},
                    {"seconds_per_exchange", exchange},
                    {"gbytes_per_s_per_direction", gbps},
                    {"mpi_sendrecv_gbytes_per_s", raw_gbps},
                    {"ratio_to_mpi_sendrecv", gbps / raw_gbps},
                    {"memcpy_gbytes_per_s", memcpy_gbps},
                    {"ratio_to_memcpy", gbps / memcpy_gbps},
                    {"repetitions", reps}});
  }
  return rows;
}

// One tile of stand-in computation (~50 us, the order of an attention tile): an axpy chain over
// L1/L2-resident data that the compiler must keep.
void compute_tile(std::vector<float>& y, const std::vector<float>& x) {
  for (int pass = 0; pass < 64; ++pass)
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = y[i] * 0.999f + x[i];
  asm volatile("" : : "r"(y.data()) : "memory");
}

nlohmann::json bench_overlap(MpiCommunicator& comm, bool quick) {
  const int peer = 1 - comm.rank();
  const std::size_t bytes = 8u << 20;
  std::vector<std::uint8_t> out(bytes, 1), in(bytes);
  std::vector<float> y(16384, 1.0f), x(16384, 0.5f);
  const int reps = quick ? 3 : 10;

  comm.sendrecv(out, peer, in, peer);
  comm.barrier();
  const double transfer = best_time_per_call(reps, [&] { comm.sendrecv(out, peer, in, peer); });
  const double tile = best_time_per_call(200, [&] { compute_tile(y, x); });
  // Both ranks use rank 0's tile count: a computation about 1.5x the transfer.
  const int tiles = comm.all_reduce_value(
      comm.rank() == 0 ? std::max(1, static_cast<int>(1.5 * transfer / tile)) : 0, ReduceOp::sum);
  const double compute = best_time_per_call(reps, [&] {
    for (int t = 0; t < tiles; ++t) compute_tile(y, x);
  });
  // What one progress() costs with the exchange's two requests in flight (the peer answers late).
  double progress_call = 0;
  {
    std::vector<std::uint8_t> never(1);
    Request pending = comm.irecv(never, peer, 99);
    progress_call = best_time_per_call(1000, [&] { comm.progress(); });
    comm.barrier();
    const std::uint8_t one = 1;
    comm.isend(std::span(&one, 1), peer, 99).wait();
    pending.wait();
  }

  auto overlapped = [&](bool with_progress) {
    comm.barrier();
    comm.reset_stats();
    const double total = best_time_per_call(reps, [&] {
      Request exchange = comm.isendrecv(out, peer, in, peer);
      for (int t = 0; t < tiles; ++t) {
        compute_tile(y, x);
        if (with_progress) comm.progress();
      }
      exchange.wait();
    });
    const double waited = comm.stats()[CommOp::sendrecv].wait_seconds / (3.0 * reps);
    const double hidden = std::clamp((compute + transfer - total) / transfer, 0.0, 1.0);
    return nlohmann::json{{"seconds_total", total},
                          {"seconds_waiting", waited},
                          {"waiting_share_of_transfer", waited / transfer},
                          {"hidden_share_end_to_end", hidden}};
  };
  const nlohmann::json without = overlapped(false);
  const nlohmann::json with = overlapped(true);
  if (comm.rank() == 0) {
    std::printf("\noverlap: 8 MiB exchange (%.3f ms alone) during %d tiles of compute (%.3f ms alone, %.1f us/tile);"
                " one progress() call %.2f us\n",
                transfer * 1e3, tiles, compute * 1e3, tile * 1e6, progress_call * 1e6);
    for (const auto& [name, row] : {std::pair{"without progress", without}, std::pair{"with progress", with}})
      std::printf("  %-17s total %.3f ms; blocked in wait %.3f ms (%.0f%% of the transfer); hidden end to end %.0f%%\n",
                  name, row["seconds_total"].get<double>() * 1e3, row["seconds_waiting"].get<double>() * 1e3,
                  100 * row["waiting_share_of_transfer"].get<double>(), 100 * row["hidden_share_end_to_end"].get<double>());
  }
  return {{"bytes", bytes},
          {"seconds_transfer_alone", transfer},
          {"seconds_compute_alone", compute},
          {"tiles", tiles},
          {"seconds_per_tile", tile},
          {"seconds_per_progress_call", progress_call},
          {"without_progress", without},
          {"with_progress", with}};
}

int run(int argc, char** argv, const MpiEnvironment& mpi) {
  const Options options = parse(argc, argv);
  MpiCommunicator comm;
  if (comm.size() != 2)
    throw UsageError(fmt::format("[bench_comm] run with exactly 2 ranks (mpirun -n 2), got {}", comm.size()));
  comm.set_step("bench_comm");
  if (comm.rank() == 0)
    std::printf("bench_comm: 2 ranks, MPI thread support '%s'%s\n", std::string(thread_level_name(mpi.provided())).c_str(),
                options.quick ? ", --quick" : "");
  nlohmann::json report{{"benchmark", "bench_comm"},
                        {"ranks", comm.size()},
                        {"mpi_thread_level", thread_level_name(mpi.provided())},
                        {"quick", options.quick}};
  report["sendrecv_bandwidth"] = bench_bandwidth(comm, options.quick);
  report["overlap"] = bench_overlap(comm, options.quick);
  if (comm.rank() == 0 && !options.json_path.empty()) {
    std::printf("\n");
    if (!bench::write_json_report(report, options.json_path, "bench_comm")) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  attnscale::MpiEnvironment mpi(&argc, &argv);
  return attnscale::run_job([&] { return attnscale::run(argc, argv, mpi); });
}

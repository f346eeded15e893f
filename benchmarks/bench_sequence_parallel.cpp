// bench_sequence_parallel: halo local attention against ring attention with the same window mask,
// 2 ranks, forward + backward, time and bytes.
//
// Build and run (by hand; it is not part of CTest):
//   ninja -C build bench_sequence_parallel
//   OMP_NUM_THREADS=1 mpirun -n 2 --oversubscribe build/bin/bench_sequence_parallel
//       [--tokens 65536] [--window 256] [--heads 4] [--head-dim 64] [--reps 3] [--json FILE]
//   (as root add --allow-run-as-root, or export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
//
// One causal sliding-window sequence of --tokens tokens (f32, batch 1, kv heads = heads) split
// contiguously over the 2 ranks. Measured in the same run, each the median of --reps:
//   halo   halo_attention (the previous rank's last `window` keys, overlapped with the local block);
//   ring   context_parallel_attention with Algo::ring (its plan also sends only the window rows,
//          but hop by hop and with the dK/dV accumulator round the ring);
//   local  fused_attention on this rank's shard alone: the same compute with no communication,
//          the floor both distributed variants approach.
//   local_m        Luong local-m (local_m_halo_attention, heads as batch rows) with D = window / 2,
//                  so each query reads window + 1 keys as in `halo`: the D source rows beyond each
//                  shard edge travel (window rows in all, as `halo`);
//   local_m_alone  the same op on this rank's shard alone (no communication): the floor;
//   gather_kv      an all-gather of every rank's K and V, what an op that gathers the whole
//                  source moves in its forward (its backward would move as much back), timed alone.
// Each variant runs once untimed first. Printed per variant: forward and backward seconds (slowest rank), bytes this
// rank sent, and the ratios halo / ring and halo / local. A custom harness instead of Google Benchmark's loop: both
// ranks must run identical iteration counts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/context_parallel/context_parallel_attention.h"
#include "distributed/sequence_parallel/local_halo.h"
#include "distributed/sequence_parallel/sequence_parallel_attention.h"
#include "framework/core/ops/ops.h"
#include "benchmarks/json_report.h"

namespace attnscale {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t tokens = 65536, window = 256, heads = 4, head_dim = 64;
  int reps = 3;
  std::string json_path;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(fmt::format("[bench_sequence_parallel] {} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--tokens")
      o.tokens = std::stoll(next());
    else if (arg == "--window")
      o.window = std::stoll(next());
    else if (arg == "--heads")
      o.heads = std::stoll(next());
    else if (arg == "--head-dim")
      o.head_dim = std::stoll(next());
    else if (arg == "--reps")
      o.reps = std::stoi(next());
    else if (arg == "--json")
      o.json_path = next();
    else
      throw UsageError(
          fmt::format("[bench_sequence_parallel] unknown argument '{}' (use --tokens, --window, "
                      "--heads, --head-dim, --reps, --json FILE)",
                      arg));
  }
  return o;
}

struct Timing {
  double forward = 0, backward = 0;
  double wait = 0;  // seconds this rank sat blocked in transfer waits, last rep, fwd + bwd (not hidden)
  uint64_t bytes_forward = 0, bytes_backward = 0;
};

using AttentionFn = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;

// Median over reps of forward and backward times, each the slowest rank's.
Timing measure(Communicator& comm, const Options& o, const AttentionFn& fn) {
  const int64_t n = o.tokens / comm.size();
  Generator gen(7 + static_cast<uint64_t>(comm.rank()));
  const Tensor q = Tensor::randn({1, o.heads, n, o.head_dim}, gen).set_requires_grad();
  const Tensor k = Tensor::randn({1, o.heads, n, o.head_dim}, gen).set_requires_grad();
  const Tensor v = Tensor::randn({1, o.heads, n, o.head_dim}, gen).set_requires_grad();
  const Tensor dout = Tensor::randn({1, o.heads, n, o.head_dim}, gen);
  std::vector<double> fwd, bwd;
  Timing t;
  fn(q, k, v).backward(dout);  // warm-up (first-touch of buffers, thread pools), untimed
  for (int rep = 0; rep < o.reps; ++rep) {
    comm.barrier();
    comm.reset_stats();
    auto start = Clock::now();
    const Tensor out = fn(q, k, v);
    const double forward = std::chrono::duration<double>(Clock::now() - start).count();
    t.bytes_forward = comm.stats().total().bytes_sent;  // before the harness's own reductions
    fwd.push_back(comm.all_reduce_value(forward, ReduceOp::max));
    comm.barrier();
    const uint64_t before = comm.stats().total().bytes_sent;
    start = Clock::now();
    out.backward(dout);
    const double backward = std::chrono::duration<double>(Clock::now() - start).count();
    t.bytes_backward = comm.stats().total().bytes_sent - before;
    t.wait = comm.stats()[CommOp::send].wait_seconds + comm.stats()[CommOp::recv].wait_seconds +
             comm.stats()[CommOp::sendrecv].wait_seconds + comm.stats()[CommOp::all_to_all_v].wait_seconds;
    bwd.push_back(comm.all_reduce_value(backward, ReduceOp::max));
  }
  std::sort(fwd.begin(), fwd.end());
  std::sort(bwd.begin(), bwd.end());
  t.forward = fwd[fwd.size() / 2];
  t.backward = bwd[bwd.size() / 2];
  return t;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  MpiCommunicator world;
  if (world.size() != 2)
    throw UsageError(
        fmt::format("[bench_sequence_parallel] run with exactly 2 ranks (mpirun -n 2), got {}", world.size()));
  auto comm = world.split(0, world.rank(), "bench");
  const kernels::Layout layout(kernels::LayoutKind::contiguous, o.tokens, 2);
  AttentionSpec spec;
  spec.mask.causal = true;
  spec.mask.window = kernels::Window{o.window, 0};
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  if (world.rank() == 0)
    std::printf(
        "bench_sequence_parallel: %lld tokens over 2 ranks, causal window %lld, %lld heads x %lld, f32, "
        "median of %d (OMP_NUM_THREADS=%s, OPENBLAS_CORETYPE=%s)\n",
        static_cast<long long>(o.tokens), static_cast<long long>(o.window), static_cast<long long>(o.heads),
        static_cast<long long>(o.head_dim), o.reps,
        std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "unset", coretype ? coretype : "unset");

  const Timing halo = measure(*comm, o, [&](const Tensor& q, const Tensor& k, const Tensor& v) {
    return halo_attention(q, k, v, spec, {comm.get(), layout});
  });
  const Timing ring = measure(*comm, o, [&](const Tensor& q, const Tensor& k, const Tensor& v) {
    return context_parallel_attention(q, k, v, spec, {comm.get(), nullptr, nullptr, Algo::ring, layout});
  });
  const Timing local = measure(*comm, o, [&](const Tensor& q, const Tensor& k, const Tensor& v) {
    AttentionSpec shard = spec;
    shard.q_positions = shard.k_positions = layout.positions(comm->rank());
    return fused_attention(q, k, v, shard);
  });

  // Luong local-m with the heads as batch rows ([1, H, n, D] -> [H, n, D]); comm null: the shard alone.
  LocalHaloOptions local_options;
  local_options.window = std::max<int64_t>(1, o.window / 2);
  const auto local_m = [&](Communicator* c) {
    return [&, c](const Tensor& q, const Tensor& k, const Tensor& v) {
      const int64_t n = q.shape()[2];
      const kernels::Layout part(kernels::LayoutKind::contiguous, c != nullptr ? o.tokens : n, c != nullptr ? 2 : 1);
      const auto flat = [&](const Tensor& x) { return reshape(x, {o.heads, n, o.head_dim}); };
      return reshape(local_m_halo_attention(flat(q), flat(k), flat(v), local_options, {c, part, part}), q.shape());
    };
  };
  const Timing local_m_halo = measure(*comm, o, local_m(comm.get()));
  const Timing local_m_alone = measure(*comm, o, local_m(nullptr));
  // Gathering the whole source instead: the all-gather of K and V alone (median of reps, slowest rank).
  std::vector<double> gather_times;
  uint64_t gather_bytes = 0;
  {
    const size_t shard = static_cast<size_t>(o.tokens / 2 * o.heads * o.head_dim);
    const std::vector<float> kv_shard(2 * shard, 1.0f);
    std::vector<float> kv_all(2 * kv_shard.size());
    for (int rep = 0; rep <= o.reps; ++rep) {  // rep 0 untimed
      comm->barrier();
      comm->reset_stats();
      const auto start = Clock::now();
      comm->all_gather(kv_shard, kv_all);
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      gather_bytes = comm->stats()[CommOp::all_gather].bytes_received;
      if (rep > 0) gather_times.push_back(comm->all_reduce_value(seconds, ReduceOp::max));
    }
    std::sort(gather_times.begin(), gather_times.end());
  }
  const double gather_s = gather_times[gather_times.size() / 2];

  const auto row = [](const Timing& t) {
    return nlohmann::json{{"forward_s", t.forward},
                          {"backward_s", t.backward},
                          {"bytes_sent_forward", t.bytes_forward},
                          {"bytes_sent_backward", t.bytes_backward},
                          {"transfer_wait_s", t.wait}};
  };
  const uint64_t halo_theory = static_cast<uint64_t>(o.window * o.head_dim * o.heads * 2 * 4);
  nlohmann::json report{
      {"benchmark", "bench_sequence_parallel"},
      {"tokens", o.tokens},
      {"window", o.window},
      {"heads", o.heads},
      {"head_dim", o.head_dim},
      {"rank", comm->rank()},
      {"openblas_coretype", coretype ? coretype : "unset"},
      {"halo", row(halo)},
      {"ring", row(ring)},
      {"local_only", row(local)},
      {"local_m", row(local_m_halo)},
      {"local_m_alone", row(local_m_alone)},
      {"gather_kv", {{"forward_s", gather_s}, {"bytes_received", gather_bytes}}},
      {"ratio_local_m_over_alone_total",
       (local_m_halo.forward + local_m_halo.backward) / (local_m_alone.forward + local_m_alone.backward)},
      {"ratio_local_m_bytes_over_gather", static_cast<double>(local_m_halo.bytes_forward) / gather_bytes},
      {"halo_bytes_theory_rank0", halo_theory},
      {"ratio_halo_over_ring_total", (halo.forward + halo.backward) / (ring.forward + ring.backward)},
      {"ratio_halo_over_local_total", (halo.forward + halo.backward) / (local.forward + local.backward)}};
  if (world.rank() == 0) {
    for (const auto& [name, t] : {std::pair{"halo", halo}, std::pair{"ring", ring}, std::pair{"local", local},
                                  std::pair{"local_m", local_m_halo}, std::pair{"lm_alone", local_m_alone}})
      std::printf(
          "%-8s forward %8.4f s  backward %8.4f s  sent fwd %10llu B  bwd %10llu B  blocked in transfers %.5f s\n",
          name, t.forward, t.backward, static_cast<unsigned long long>(t.bytes_forward),
          static_cast<unsigned long long>(t.bytes_backward), t.wait);
    std::printf("halo / ring (fwd+bwd): %.3f   halo / local-only: %.3f   halo bytes theory (rank 0 fwd): %llu\n",
                report["ratio_halo_over_ring_total"].get<double>(), report["ratio_halo_over_local_total"].get<double>(),
                static_cast<unsigned long long>(halo_theory));
    std::printf(
        "local-m / alone (fwd+bwd): %.3f   local-m bytes / gather bytes (fwd): %.2e   gather_kv %.4f s, %llu B\n",
        report["ratio_local_m_over_alone_total"].get<double>(), report["ratio_local_m_bytes_over_gather"].get<double>(),
        gather_s, static_cast<unsigned long long>(gather_bytes));
    if (!o.json_path.empty()) {
      if (!bench::write_json_report(report, o.json_path, "bench_sequence_parallel")) return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  attnscale::MpiEnvironment mpi(&argc, &argv);
  return attnscale::run_job([&] { return attnscale::run(argc, argv); });
}

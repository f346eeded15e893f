// bench_context_parallel: ring attention over P ranks against the fused kernel doing the same
// per-rank work without any communication, measured in the same run.
//
// Build and run (P = 2, one thread per rank):
//   ninja -C build bench_context_parallel
//   OMP_NUM_THREADS=1 mpirun -np 2 build/bin/bench_context_parallel [--quick] [--json FILE]
//                                  [--n 4096] [--d 128] [--heads 1] [--layout zigzag] [--mask causal]
// For each per-rank length n (1k, 2k, 4k, 8k, 16k; --quick: 1k, 4k) it reports, per rank:
//   1. ring time: ring_attention_forward and forward + backward (best of the repeats);
//   2. compute time: the same kernel calls the ring makes (this rank's queries against every key
//      block it computes with, same positions, so the same tiles are skipped), on local buffers,
//      no communication: the reference measured in the same run;
//   3. overlap efficiency = compute / ring (1.0: every transfer hidden), also with the progress
//      callback off (the transfers then wait until the kernel is done: DESIGN.md 9);
//   4. bytes sent (the communicator's counters) against the theoretical minimum worked out from the
//      mask (minimum_volume) and against a mask-blind ring ((P - 1) shards per pass);
//   5. peak resident memory (getrusage) beside the bytes of the inputs and outputs.
// The efficiency printed is the worst rank's. The development machine is shared by several
// engineers building at the same time: expect noise; repeat with a quiet machine for numbers to
// quote. OpenBLAS is not used by these kernels (their own AVX-512 tile micro-kernels).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/threads.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/context_parallel/ring_attention.h"
#include "benchmarks/json_report.h"

namespace {

using namespace attnscale;

struct Options {
  bool quick = false;
  std::string json;
  int64_t only_n = 0, d = 128, heads = 1;
  std::string layout = "zigzag", mask = "causal";
};

double seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (auto& e : x) e = dist(rng);
  return x;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

struct Row {
  double ring_fwd = 0, ring_fwd_no_progress = 0, compute_fwd = 0;
  double ring_fwd_bwd = 0, ring_fwd_bwd_no_progress = 0, compute_fwd_bwd = 0;
  uint64_t sent_fwd = 0, sent_bwd = 0;
  double waited_fwd = 0, waited_bwd = 0;  // blocked in waits: exposed transfers and imbalance
};

// One per-rank length: every measurement interleaved, best of `repeats`.
Row measure(MpiCommunicator& comm, const Options& opt, int64_t n, int repeats) {
  const int ranks = comm.size(), rank = comm.rank();
  const kernels::Layout layout(kernels::parse_layout_kind(opt.layout.c_str()), n * ranks, ranks);
  kernels::Mask mask;
  if (opt.mask == "causal") mask.causal = true;
  std::vector<kernels::Positions> positions;
  for (int r = 0; r < ranks; ++r) positions.push_back(layout.positions(r));
  const cp::RingPlan plan(mask, positions, positions);

  const int64_t local = layout.local_length(rank);
  cp::RingInputs<float> in;
  in.shape = {1, opt.heads, opt.heads, local, local, opt.d, opt.d};
  in.scale = kernels::score_scale(0, opt.d);
  in.mask = mask;
  const auto& s = in.shape;
  const std::vector<float> q = random_floats(static_cast<size_t>(s.q_size()), 1 + rank),
                           k = random_floats(static_cast<size_t>(s.k_size()), 11 + rank),
                           v = random_floats(static_cast<size_t>(s.v_size()), 21 + rank),
                           dout = random_floats(static_cast<size_t>(s.out_size()), 31 + rank);
  in.q = q;
  in.k = k;
  in.v = v;
  std::vector<float> out(static_cast<size_t>(s.out_size())), lse(static_cast<size_t>(s.rows()));
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size()), delta(lse.size());
  int64_t largest = 0;  // shards may differ by a token: the reference's stand-in blocks fit any
  for (int r = 0; r < ranks; ++r) largest = std::max(largest, layout.local_length(r));
  const std::vector<float> k_block = random_floats(static_cast<size_t>(largest * opt.heads * opt.d), 41),
                           v_block = random_floats(k_block.size(), 42);
  std::vector<float> dk_block(k_block.size()), dv_block(k_block.size());

  // The reference: the kernel calls of the ring's steps, on this rank's own buffers sized like
  // the blocks (values do not change the work; positions decide which tiles run).
  const auto compute_only = [&](bool backward) {
    for (int step = 0; step < ranks; ++step) {
      const int owner = plan.owner_at(rank, step);
      const cp::RowSet& rows = plan.carried(owner, step);
      if (step > 0 && plan.needed(owner, step).empty()) continue;
      const auto count = static_cast<size_t>(rows.size() * opt.heads * opt.d);
      const cp::KvView<float> block{std::span<const float>(k_block).first(count),
                                    std::span<const float>(v_block).first(count), {}, {}};
      const kernels::AttentionParams p = cp::step_params(in, plan, rank, owner, rows, block);
      if (!backward) {
        kernels::AttentionForwardBuffers<float> io{q, block.k, block.v, out, lse};
        io.merge_into_output = true;
        kernels::attention_forward<float>(p, io);
      } else {
        kernels::AttentionBackwardBuffers<float> io{q, block.k, block.v, dout, lse, delta,
                                                    dq, std::span<float>(dk_block).first(count),
                                                    std::span<float>(dv_block).first(count)};
        io.accumulate_dq = true;
        kernels::attention_backward<float>(p, io);
      }
    }
  };

  Row best;
  best.ring_fwd = best.ring_fwd_no_progress = best.compute_fwd = 1e30;
  best.ring_fwd_bwd = best.ring_fwd_bwd_no_progress = best.compute_fwd_bwd = 1e30;
  const auto keep = [](double& slot, double t) { slot = std::min(slot, t); };
  for (int r = 0; r < repeats; ++r) {
    for (const bool overlap : {true, false}) {
      in.overlap = overlap;
      comm.barrier();
      const double f = seconds([&] { cp::ring_attention_forward<float>(&comm, plan, in, out, lse); });
      comm.barrier();
      const double b = seconds([&] {
        cp::ring_attention_backward<float>(&comm, plan, in, out, lse, dout, dq, dk, dv);
      });
      keep(overlap ? best.ring_fwd : best.ring_fwd_no_progress, f);
      keep(overlap ? best.ring_fwd_bwd : best.ring_fwd_bwd_no_progress, f + b);
    }
    comm.barrier();
    const double f = seconds([&] {
      std::fill(out.begin(), out.end(), 0.0f);
      std::fill(lse.begin(), lse.end(), -INFINITY);
      compute_only(false);
    });
    const double b = seconds([&] {
      kernels::attention_delta<float>(dout, out, opt.d, delta);
      std::fill(dq.begin(), dq.end(), 0.0f);
      compute_only(true);
    });
    keep(best.compute_fwd, f);
    keep(best.compute_fwd_bwd, f + b);
  }
  in.overlap = true;
  comm.barrier();
  comm.reset_stats();
  cp::ring_attention_forward<float>(&comm, plan, in, out, lse);
  best.sent_fwd = comm.stats().total().bytes_sent;
  best.waited_fwd = comm.stats().total().wait_seconds;
  cp::ring_attention_backward<float>(&comm, plan, in, out, lse, dout, dq, dk, dv);
  best.sent_bwd = comm.stats().total().bytes_sent - best.sent_fwd;
  best.waited_bwd = comm.stats().total().wait_seconds - best.waited_fwd;
  return best;
}

// The least a neighbour ring can send, worked out from the mask directly (causal or none; not
// from RingPlan): at step s rank r forwards the keys of owner o = r - s that some rank at hop
// s + 1 or beyond still needs; under causal a key is needed by a rank iff its position is at most
// that rank's last query position. The backward sends those rows again, their gradients along the
// same hops, and each block's gradients home from where they were last used.
struct Volume {
  double forward_rows = 0, backward_grad_rows = 0;  // rows this rank sends
};

Volume minimum_volume(const Options& opt, int64_t n, int ranks, int rank) {
  const kernels::Layout layout(kernels::parse_layout_kind(opt.layout.c_str()), n * ranks, ranks);
  std::vector<std::vector<int64_t>> pos(static_cast<size_t>(ranks));
  std::vector<int64_t> last(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    pos[static_cast<size_t>(r)].resize(static_cast<size_t>(layout.local_length(r)));
    layout.positions(r).fill(pos[static_cast<size_t>(r)]);
    last[static_cast<size_t>(r)] = *std::max_element(pos[static_cast<size_t>(r)].begin(), pos[static_cast<size_t>(r)].end());
  }
  // Rows of `owner` needed at hop `hop` or beyond.
  const auto carried = [&](int owner, int hop) -> double {
    int64_t cutoff = -1;
    for (int u = hop; u < ranks; ++u) cutoff = std::max(cutoff, last[static_cast<size_t>((owner + u) % ranks)]);
    const auto& keys = pos[static_cast<size_t>(owner)];
    if (opt.mask != "causal") return hop < ranks ? static_cast<double>(keys.size()) : 0.0;
    return static_cast<double>(std::count_if(keys.begin(), keys.end(), [&](int64_t p) { return p <= cutoff; }));
  };
  Volume v;
  for (int step = 0; step + 1 < ranks; ++step) {
    const int owner = ((rank - step) % ranks + ranks) % ranks;
    v.forward_rows += carried(owner, step + 1);
    v.backward_grad_rows += carried(owner, step + 1);  // the accumulator travels with the keys
    if (step > 0) v.backward_grad_rows += carried(owner, step) - carried(owner, step + 1);  // home
  }
  const int owner = (rank + 1) % ranks;  // the last step's block: everything left goes home
  if (ranks > 1) v.backward_grad_rows += carried(owner, ranks - 1);
  return v;
}

int run(int argc, char** argv, const MpiEnvironment& mpi) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") opt.quick = true;
    else if (arg == "--json" && has_value) opt.json = argv[++i];
    else if (arg == "--n" && has_value) opt.only_n = std::atoll(argv[++i]);
    else if (arg == "--d" && has_value) opt.d = std::atoll(argv[++i]);
    else if (arg == "--heads" && has_value) opt.heads = std::atoll(argv[++i]);
    else if (arg == "--layout" && has_value) opt.layout = argv[++i];
    else if (arg == "--mask" && has_value) opt.mask = argv[++i];
    else {
      if (mpi.world_rank() == 0)
        std::fprintf(stderr,
                     "usage: mpirun -np 2 bench_context_parallel [--quick] [--json FILE] [--n N] [--d D] "
                     "[--heads H] [--layout contiguous|zigzag|striped] [--mask causal|none]\n");
      return 2;
    }
  }
  set_thread_count(1);
  MpiCommunicator comm;
  const int ranks = comm.size(), rank = comm.rank();
  std::vector<int64_t> sizes = opt.only_n > 0 ? std::vector<int64_t>{opt.only_n}
                               : opt.quick    ? std::vector<int64_t>{1024, 4096}
                                              : std::vector<int64_t>{1024, 2048, 4096, 8192, 16384};
  if (rank == 0)
    std::printf("ring attention, P=%d ranks x 1 thread, %s layout, %s mask, D=%lld, heads=%lld (fp32)\n"
                "overlap efficiency = compute-only time / ring time (worst rank); bytes per rank vs theory\n",
                ranks, opt.layout.c_str(), opt.mask.c_str(), static_cast<long long>(opt.d),
                static_cast<long long>(opt.heads));
  nlohmann::json rows = nlohmann::json::array();
  for (const int64_t n : sizes) {
    const int repeats = n >= 8192 ? 2 : n >= 4096 ? 3 : 5;
    const Row r = measure(comm, opt, n, repeats);
    const auto worst = [&](double value, ReduceOp op) { return comm.all_reduce_value(value, op); };
    const double eff_fwd = worst(r.compute_fwd / r.ring_fwd, ReduceOp::min);
    const double eff_fwd_np = worst(r.compute_fwd / r.ring_fwd_no_progress, ReduceOp::min);
    const double eff_all = worst(r.compute_fwd_bwd / r.ring_fwd_bwd, ReduceOp::min);
    const double eff_all_np = worst(r.compute_fwd_bwd / r.ring_fwd_bwd_no_progress, ReduceOp::min);
    const double ring_fwd = worst(r.ring_fwd, ReduceOp::max), ring_all = worst(r.ring_fwd_bwd, ReduceOp::max);
    const double rss = worst(peak_rss_mib(), ReduceOp::max);
    const double waited_fwd = worst(r.waited_fwd, ReduceOp::max), waited_bwd = worst(r.waited_bwd, ReduceOp::max);
    const Volume theory = minimum_volume(opt, n, ranks, rank);
    const double row_bytes = static_cast<double>(opt.heads * opt.d * 2 * 4);  // K and V, or dK and dV (fp32)
    const double theory_fwd = worst(theory.forward_rows * row_bytes, ReduceOp::max);
    const double theory_bwd = worst((theory.forward_rows + theory.backward_grad_rows) * row_bytes, ReduceOp::max);
    const double blind_fwd = static_cast<double>(n) * row_bytes * (ranks - 1);
    const double sent_fwd = worst(static_cast<double>(r.sent_fwd), ReduceOp::max);
    const double sent_bwd = worst(static_cast<double>(r.sent_bwd), ReduceOp::max);
    const double io_mib = static_cast<double>(n * opt.heads * opt.d * 4 * 4 * 2) / (1 << 20);  // q,k,v,out + grads
    if (rank == 0) {
      std::printf("n=%6lld/rank  fwd %8.2f ms eff %.3f (no progress %.3f)   fwd+bwd %8.2f ms eff %.3f "
                  "(no progress %.3f)\n              blocked in waits (one run, worst rank): fwd %.2f ms, "
                  "bwd %.2f ms\n              sent fwd %.2f MiB (x%.2f minimum, x%.2f mask-blind ring) "
                  "bwd %.2f MiB (x%.2f minimum)   peak RSS %.0f MiB (q,k,v,out and grads %.0f MiB)\n",
                  static_cast<long long>(n), ring_fwd * 1e3, eff_fwd, eff_fwd_np, ring_all * 1e3, eff_all, eff_all_np,
                  waited_fwd * 1e3, waited_bwd * 1e3, sent_fwd / (1 << 20), sent_fwd / theory_fwd, sent_fwd / blind_fwd, sent_bwd / (1 << 20),
                  sent_bwd / theory_bwd, rss, io_mib);
      std::fflush(stdout);
    }
    rows.push_back({{"n_per_rank", n},
                    {"forward", {{"ring_s", ring_fwd}, {"efficiency", eff_fwd}, {"efficiency_no_progress", eff_fwd_np}}},
                    {"forward_backward",
                     {{"ring_s", ring_all}, {"efficiency", eff_all}, {"efficiency_no_progress", eff_all_np}}},
                    {"bytes_sent_per_rank",
                     {{"forward", sent_fwd}, {"backward", sent_bwd}, {"minimum_forward", theory_fwd},
                      {"minimum_backward", theory_bwd}, {"mask_blind_ring_forward", blind_fwd}}},
                    {"blocked_in_waits_s", {{"forward", waited_fwd}, {"backward", waited_bwd}}},
                    {"peak_rss_mib", rss},
                    {"tensor_mib", io_mib}});
  }
  if (rank == 0 && !opt.json.empty()) {
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    nlohmann::json report{{"benchmark", "bench_context_parallel"},
                          {"ranks", ranks},
                          {"threads_per_rank", 1},
                          {"layout", opt.layout},
                          {"mask", opt.mask},
                          {"head_dim", opt.d},
                          {"heads", opt.heads},
                          {"dtype", "float32"},
                          {"openblas_coretype", coretype ? coretype : ""},
                          {"note", "shared development machine, other builds running: expect noise"},
                          {"rows", rows}};
    if (!bench::write_json_report(report, opt.json, "bench_context_parallel")) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  attnscale::MpiEnvironment mpi(&argc, &argv);
  return attnscale::run_job([&] { return run(argc, argv, mpi); });
}

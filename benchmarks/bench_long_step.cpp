// bench_long_step: one full training step (forward, backward, gradient all-reduce, clipping, AdamW)
// of a small TransformerLM on a single sequence of 1,048,576 tokens with a causal sliding window of
// 4096 keys, the sequence sharded over the ranks (parallel.cp = ranks, contiguous layout, halo
// exchange), each block's activations recomputed in the backward (model.activation_checkpointing;
// --store-activations keeps them instead). Time of each phase and peak memory per rank.
//
// Build and run (by hand; it is not part of CTest):
//   ninja -C build bench_long_step
//   OMP_NUM_THREADS=1 mpirun -n 2 --oversubscribe build/bin/bench_long_step
//       [--tokens 1048576] [--window 4096] [--d-model 64] [--layers 2] [--heads 2]
//       [--algo halo|ring|all_gather|auto] [--steps 2] [--no-reference] [--store-activations]
//       [--data listops.h5] [--json FILE]
//   (as root add --allow-run-as-root)
//
// The step is the trainer's (framework/train/trainer.cpp): LMTask::train_batch on the copy task
// (the loss over every token of the sequence), or with --data on ListOps expressions packed back to
// back into the sequence (a real task: the loss at each expression's last token, `attnscale prepare
// listops`), backward, GradientReducer, clip_grad_norm, AdamW.
// Reference, measured in the same run afterwards: every rank runs the same model on its own shard
// as a sequence of its own (tokens / ranks, the same window) with no communication, so
// step / reference is what spreading one sequence over the ranks costs beyond the local work
// (the halo transfers, the fetch plan, the gradient all-reduce). Times are the slowest rank's;
// the peak resident memory (getrusage) is each rank's, taken before the reference runs.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/process_grid.h"
#include "distributed/data_parallel/gradient_reducer.h"
#include "framework/config/enum_names.h"
#include "framework/optim/clip_grad.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "benchmarks/json_report.h"

namespace attnscale {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t tokens = 1 << 20, window = 4096, d_model = 64, layers = 2, heads = 2;
  std::string algo = "halo";
  int steps = 2;
  bool reference = true;
  bool checkpointing = true;  // model.activation_checkpointing
  std::string json_path;
  std::string data_path;  // a ListOps file; empty = the copy task
};

// Empty after --help (printed).
std::optional<Options> parse(int argc, char** argv) {
  Options o;
  CLI::App app("bench_long_step: one training step on a 1M-token sequence sharded over the ranks");
  app.add_option("--tokens", o.tokens, "tokens in the sequence")->check(CLI::PositiveNumber);
  app.add_option("--window", o.window, "causal window in keys per query")->check(CLI::PositiveNumber);
  app.add_option("--d-model", o.d_model, "model width")->check(CLI::PositiveNumber);
  app.add_option("--layers", o.layers, "transformer blocks")->check(CLI::PositiveNumber);
  app.add_option("--heads", o.heads, "attention heads")->check(CLI::PositiveNumber);
  app.add_option("--algo", o.algo, "parallel.algo")->check(CLI::IsMember({"halo", "ring", "all_gather", "auto"}));
  app.add_option("--steps", o.steps, "training steps timed")->check(CLI::PositiveNumber);
  app.add_flag("!--no-reference", o.reference, "skip the shard-alone reference");
  app.add_flag("!--store-activations", o.checkpointing, "keep activations instead of recomputing them");
  app.add_option("--json", o.json_path, "write the report here");
  app.add_option("--data", o.data_path, "train on this ListOps file (`attnscale prepare listops`), its expressions "
                                        "packed into the sequence, instead of the copy task")
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    throw UsageError(fmt::format("[bench_long_step] {}", e.what()));
  }
  return o;
}

Config step_config(const Options& o, int64_t tokens, int cp) {
  Config cfg;
  cfg.model.d_model = o.d_model;
  cfg.model.n_layers = o.layers;
  cfg.model.n_heads = o.heads;
  cfg.model.max_seq_len = tokens;
  cfg.model.activation_checkpointing = o.checkpointing;
  cfg.attention.mask = config::Mask::window;
  cfg.attention.window = o.window;
  cfg.data.task = config::Task::copy;
  cfg.data.path = o.data_path;
  cfg.data.pack = true;  // read only with data.path
  cfg.data.seq_len = tokens;
  cfg.data.batch_size = 1;
  cfg.data.vocab_size = 32;  // the copy task's; ListOps uses 16 of them
  cfg.optim.name = config::Optimizer::adamw;
  cfg.parallel.cp = cp;
  cfg.parallel.layout = config::Layout::contiguous;
  if (cp > 1) {
    cfg.parallel.algo = parallel_algo_from_name(o.algo, "bench_long_step");
  }
  validate(cfg);
  return cfg;
}

double peak_rss_gib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);  // KiB on Linux
}

struct StepTimes {
  double forward = 0, backward = 0, reduce = 0, update = 0;  // slowest rank's, seconds
  double loss = 0;
  uint64_t attention_bytes = 0;  // this rank sent over the cp group (halo rows forward, dK/dV back)
  double attention_wait_s = 0;   // this rank sat blocked in those transfers
  uint64_t gradient_bytes = 0;   // this rank's gradient all-reduce payload
  double total() const { return forward + backward + reduce + update; }
};

// Runs `steps` training steps of `task`; returns the times of each. comm: the run's ranks, cp: the
// group attention communicates over (both null: this process alone).
std::vector<StepTimes> run_steps(const Config& cfg, train::TrainTask& task, Communicator* comm, Communicator* cp,
                                 int steps) {
  auto optimizer = train::make_optimizer(cfg.optim, task.model().named_parameters());
  std::unique_ptr<GradientReducer> reducer;
  if (comm) reducer = std::make_unique<GradientReducer>(optimizer->params(), *comm);
  const auto slowest = [&](double seconds) { return comm ? comm->all_reduce_value(seconds, ReduceOp::max) : seconds; };
  std::vector<StepTimes> out;
  for (int step = 0; step < steps; ++step) {
    if (comm) {
      comm->barrier();
      comm->reset_stats();
      cp->reset_stats();
    }
    StepTimes t;
    auto start = Clock::now();
    const auto lap = [&] {
      const auto now = Clock::now();
      const double s = std::chrono::duration<double>(now - start).count();
      start = now;
      return s;
    };
    const train::BatchResult r = task.train_batch(step);
    const double forward = lap();
    r.loss.backward();
    const double backward = lap();
    if (reducer) reducer->reduce();
    const double reduce = lap();
    clip_grad_norm(optimizer->params(), cfg.optim.grad_clip);
    optimizer->step();
    optimizer->zero_grad();
    const double update = lap();
    if (comm) {
      t.attention_bytes = cp->stats().total().bytes_sent;
      t.attention_wait_s = cp->stats().total().wait_seconds;
      t.gradient_bytes = comm->stats()[CommOp::all_reduce].bytes_sent;
    }
    t.forward = slowest(forward);
    t.backward = slowest(backward);
    t.reduce = slowest(reduce);
    t.update = slowest(update);
    const double loss = r.loss.item();
    t.loss = comm ? comm->all_reduce_value(loss, ReduceOp::sum) : loss;
    out.push_back(t);
  }
  return out;
}

nlohmann::json step_json(const StepTimes& t) {
  return {{"forward_s", t.forward}, {"backward_s", t.backward}, {"grad_allreduce_s", t.reduce},
          {"optimizer_s", t.update}, {"total_s", t.total()},    {"loss", t.loss},
          {"attention_bytes_sent", t.attention_bytes}, {"attention_wait_s", t.attention_wait_s},
          {"gradient_allreduce_bytes", t.gradient_bytes}};
}

void print_step(const char* what, int index, const StepTimes& t, int64_t tokens) {
  std::printf("%-9s step %d: %8.2f s (forward %.2f, backward %.2f, grad all-reduce %.3f, clip + AdamW %.3f)  "
              "%.0f tok/s  loss %.4f\n",
              what, index + 1, t.total(), t.forward, t.backward, t.reduce, t.update,
              static_cast<double>(tokens) / t.total(), t.loss);
}

int run(int argc, char** argv) {
  const std::optional<Options> parsed = parse(argc, argv);
  if (!parsed) return 0;
  const Options& o = *parsed;
  set_log_level("warn");
  MpiCommunicator world;
  const int ranks = world.size();
  const Config cfg = step_config(o, o.tokens, ranks);
  // One rank (parallel.cp = 1) communicates nothing: --algo does not apply and is not reported.
  const std::string algo = ranks > 1 ? o.algo : "none";
  const ProcessGrid grid(world, GridShape::for_world(ranks, ranks));
  if (world.rank() == 0)
    std::printf("bench_long_step: %s, %lld tokens over %d ranks (contiguous, parallel.algo %s), causal window %lld, "
                "TransformerLM d_model %lld, %lld layers, %lld heads, f32, AdamW, activations %s (OMP_NUM_THREADS=%s)\n",
                o.data_path.empty() ? "copy task" : ("ListOps " + o.data_path).c_str(),
                static_cast<long long>(o.tokens), ranks, algo.c_str(), static_cast<long long>(o.window),
                static_cast<long long>(o.d_model), static_cast<long long>(o.layers), static_cast<long long>(o.heads),
                o.checkpointing ? "recomputed" : "stored", std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "unset");

  std::vector<StepTimes> sharded;
  {
    train::ParallelContext parallel;
    parallel.world = &world;
    parallel.grid = &grid;
    parallel.layout = kernels::LayoutKind::contiguous;
    train::LMTask task(cfg, parallel);
    sharded = run_steps(cfg, task, &world, &grid.cp(), o.steps);
  }
  // Each rank's peak before the reference (which holds less) runs.
  std::vector<double> peak(static_cast<size_t>(ranks), 0.0);
  peak[static_cast<size_t>(world.rank())] = peak_rss_gib();
  world.all_reduce(std::span<double>(peak), ReduceOp::sum);
  if (world.rank() == 0) {
    for (int i = 0; i < o.steps; ++i) print_step("sharded", i, sharded[static_cast<size_t>(i)], o.tokens);
    for (int r = 0; r < ranks; ++r) std::printf("peak resident memory, rank %d: %.2f GiB\n", r, peak[static_cast<size_t>(r)]);
    std::printf("rank 0, last step: attention sent %.2f MiB (blocked %.4f s in those transfers), gradient "
                "all-reduce %.2f MiB\n",
                static_cast<double>(sharded.back().attention_bytes) / (1 << 20), sharded.back().attention_wait_s,
                static_cast<double>(sharded.back().gradient_bytes) / (1 << 20));
  }

  nlohmann::json report{{"benchmark", "bench_long_step"},
                        {"tokens", o.tokens},
                        {"ranks", ranks},
                        {"window", o.window},
                        {"d_model", o.d_model},
                        {"layers", o.layers},
                        {"heads", o.heads},
                        {"algo", algo},
                        {"data", o.data_path.empty() ? std::string("copy task") : o.data_path},
                        {"activation_checkpointing", o.checkpointing},
                        {"omp_num_threads", std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "unset"},
                        {"peak_rss_gib_per_rank", peak}};
  for (const StepTimes& t : sharded) report["sharded_steps"].push_back(step_json(t));

  if (o.reference) {
    const int64_t shard = kernels::Layout(kernels::LayoutKind::contiguous, o.tokens, ranks).local_length(world.rank());
    const Config local_cfg = step_config(o, shard, 1);
    train::LMTask local_task(local_cfg);
    const std::vector<StepTimes> local = run_steps(local_cfg, local_task, nullptr, nullptr, o.steps);
    const double local_total = world.all_reduce_value(local.back().total(), ReduceOp::max);
    const double ratio = sharded.back().total() / local_total;
    if (world.rank() == 0) {
      std::printf("reference (each rank its %lld-token shard alone, no communication): %.2f s per step\n",
                  static_cast<long long>(shard), local_total);
      std::printf("sharded step / reference: %.3f\n", ratio);
    }
    report["reference_shard_tokens"] = shard;
    report["reference_step_s"] = local_total;
    report["ratio_step_over_reference"] = ratio;
  }
  if (world.rank() == 0 && !o.json_path.empty()) {
    if (!bench::write_json_report(report, o.json_path, "bench_long_step")) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  attnscale::MpiEnvironment mpi(&argc, &argv);
  return attnscale::run_job([&] { return attnscale::run(argc, argv); });
}

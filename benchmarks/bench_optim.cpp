// bench_optim: memory throughput (GB/s) of the optimizer updates and the gradient-norm reduction on
// fp32, next to std::memcpy measured in the same run, printed as ratios to memcpy. The updates are
// bandwidth-bound streams, so a ratio near 1 means the update runs at the memory's speed.
//
//   ninja -C build bench_optim && build/bin/bench_optim [--threads N] [--json FILE] [--numel N]
//
// Each update goes through Optimizer::step() on one parameter of --numel elements (default 8M =
// 32 MiB per tensor, past the caches). GB/s counts the bytes an update must move: Adam reads
// p, g, m, v and writes p, m, v (28 B/element); SGD with momentum 20 B; plain SGD 12 B; the norm
// reads g once (4 B); memcpy reads and writes (8 B). "many_small" is Adam over 4096 parameters of
// 2048 elements (the same 8M in total), so its gap to "adam" is the per-parameter overhead.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/threads.h"
#include "framework/optim/adam.h"
#include "framework/optim/clip_grad.h"
#include "framework/optim/sgd.h"

namespace attnscale {
namespace {

int64_t g_numel = int64_t{1} << 23;
constexpr int64_t kF = sizeof(float);

// Parameters of `count` x `numel` elements with random gradients attached.
std::vector<NamedTensor> make_params(int64_t count, int64_t numel) {
  std::vector<NamedTensor> params;
  Generator gen(1);
  for (int64_t i = 0; i < count; ++i) {
    Tensor p = Tensor::rand({numel}, gen, DType::f32, -1.0, 1.0).set_requires_grad();
    p.set_grad(Tensor::rand({numel}, gen, DType::f32, -1e-2, 1e-2));
    params.push_back({fmt::format("p{}", i), p});
  }
  return params;
}

void report_bytes(benchmark::State& state, int64_t bytes_per_call) {
  state.SetBytesProcessed(state.iterations() * bytes_per_call);
  state.counters["bytes_per_call"] = static_cast<double>(bytes_per_call);
}

void BM_memcpy(benchmark::State& state) {
  std::vector<float> src(static_cast<size_t>(g_numel), 1.0f), dst(static_cast<size_t>(g_numel), 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), static_cast<size_t>(g_numel * kF));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  report_bytes(state, 2 * g_numel * kF);
}

void run_steps(benchmark::State& state, Optimizer& opt, int64_t bytes_per_call) {
  for (auto _ : state) {
    opt.step();
    benchmark::ClobberMemory();
  }
  report_bytes(state, bytes_per_call);
}

void BM_adam(benchmark::State& state) {
  Adam opt(make_params(1, g_numel), {});
  run_steps(state, opt, 7 * g_numel * kF);
}

void BM_adamw(benchmark::State& state) {
  AdamW opt(make_params(1, g_numel), {});
  run_steps(state, opt, 7 * g_numel * kF);
}

void BM_adam_many_small(benchmark::State& state) {
  const int64_t per_param = 2048;
  Adam opt(make_params(g_numel / per_param, per_param), {});
  run_steps(state, opt, 7 * (g_numel / per_param) * per_param * kF);
}

void BM_sgd_momentum(benchmark::State& state) {
  Sgd opt(make_params(1, g_numel), {.lr = 1e-3, .momentum = 0.9, .dampening = 0, .weight_decay = 0, .nesterov = false});
  run_steps(state, opt, 5 * g_numel * kF);
}

void BM_sgd(benchmark::State& state) {
  Sgd opt(make_params(1, g_numel), SgdOptions{});
  run_steps(state, opt, 3 * g_numel * kF);
}

void BM_grad_norm(benchmark::State& state) {
  const auto params = make_params(1, g_numel);
  for (auto _ : state) benchmark::DoNotOptimize(grad_sum_of_squares(params));
  report_bytes(state, g_numel * kF);
}

// Collects every run for the ratio table and passes it on to the console.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  struct Entry {
    double gb_per_s = 0, ms_per_call = 0, bytes_per_call = 0;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      const double seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
      const double bytes = run.counters.at("bytes_per_call").value;
      std::string name = run.benchmark_name();
      name = name.substr(3, name.find('/') - 3);  // "BM_adam/real_time" -> "adam"
      entries[name] = Entry{bytes / seconds / 1e9, seconds * 1e3, bytes};
      order.push_back(name);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, Entry> entries;
  std::vector<std::string> order;
};

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  using namespace attnscale;
  std::string json_path;
  int threads = 0;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json" && has_value) json_path = argv[++i];
    else if (arg == "--threads" && has_value) threads = std::atoi(argv[++i]);
    else if (arg == "--numel" && has_value) g_numel = std::atoll(argv[++i]);
    else rest.push_back(argv[i]);
  }
  if (g_numel < 2048) {
    std::fprintf(stderr, "bench_optim: --numel must be at least 2048\n");
    return 2;
  }
  set_thread_count(threads);

  for (auto [name, fn] : std::initializer_list<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"BM_memcpy", BM_memcpy}, {"BM_adam", BM_adam}, {"BM_adamw", BM_adamw},
           {"BM_adam_many_small", BM_adam_many_small}, {"BM_sgd_momentum", BM_sgd_momentum}, {"BM_sgd", BM_sgd},
           {"BM_grad_norm", BM_grad_norm}})
    benchmark::RegisterBenchmark(name, fn)->UseRealTime()->MinTime(0.2)->Unit(benchmark::kMillisecond);

  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto reference = reporter.entries.find("memcpy");
  if (reference == reporter.entries.end()) {
    std::fprintf(stderr, "bench_optim: memcpy did not run (filtered out?), so no ratios\n");
    return 1;
  }
  const double memcpy_gbs = reference->second.gb_per_s;
  std::printf("\n%d threads, fp32, %lld elements; ratio = GB/s / memcpy GB/s (%.2f GB/s)\n", thread_count(),
              static_cast<long long>(g_numel), memcpy_gbs);
  std::printf("%-18s %10s %10s %8s\n", "update", "ms/call", "GB/s", "ratio");
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& name : reporter.order) {
    const auto& e = reporter.entries.at(name);
    const double ratio = e.gb_per_s / memcpy_gbs;
    std::printf("%-18s %10.3f %10.2f %8.2f\n", name.c_str(), e.ms_per_call, e.gb_per_s, ratio);
    results.push_back({{"update", name}, {"ms_per_call", e.ms_per_call}, {"gb_per_s", e.gb_per_s},
                       {"bytes_per_call", e.bytes_per_call}, {"ratio_to_memcpy", ratio}});
  }
  if (!json_path.empty()) {
    const nlohmann::json doc = {{"benchmark", "bench_optim"}, {"threads", thread_count()},
                                {"dtype", "float32"},         {"numel", g_numel},
                                {"memcpy_gb_per_s", memcpy_gbs}, {"results", results}};
    std::ofstream out(json_path);
    if (!out) {
      std::fprintf(stderr, "bench_optim: cannot write %s\n", json_path.c_str());
      return 1;
    }
    out << doc.dump(2) << "\n";
  }
  return 0;
}

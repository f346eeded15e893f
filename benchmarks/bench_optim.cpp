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
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/threads.h"
#include "benchmarks/memcpy_ratio.h"
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

using bench::report_bytes;

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
  bench::MemcpyRatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const std::string what =
      fmt::format("{} threads, fp32, {} elements; ratio = GB/s / memcpy GB/s", thread_count(), g_numel);
  const nlohmann::json doc = {{"benchmark", "bench_optim"}, {"threads", thread_count()}, {"dtype", "float32"},
                              {"numel", g_numel}};
  return reporter.print_memcpy_ratios("bench_optim", what, "update", doc, json_path);
}

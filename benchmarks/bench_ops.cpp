// bench_ops: memory throughput (GB/s) of the basic tensor ops on fp32, next to std::memcpy measured
// in the same run, printed as ratios to memcpy. These ops are bandwidth-bound, so a ratio near 1
// (or above, for ops that read more than they write) means the loop runs at the memory's speed.
//
//   ninja -C build bench_ops && build/bin/bench_ops [--threads N] [--json FILE] [--rows R --cols C] [--cpu-time]
//
// GB/s counts the bytes an op must move at least (inputs read once, output written once). Each op
// allocates its output as it would in a model, so the figure includes that cost. Times are wall
// clock; --cpu-time divides by the process's CPU time instead, which stays meaningful on a machine
// shared with other jobs (with --threads 1 it equals wall time on an idle machine).
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
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"

namespace attnscale {
namespace {

struct Sizes {
  int64_t rows = 4096, cols = 2048;  // 8M floats = 32 MiB per tensor: well past the caches
  int64_t numel() const { return rows * cols; }
};
Sizes g_sizes;

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f32, -2.0, 2.0);
}

// Runs `op` per iteration and reports the bytes it must move.
template <typename Op>
void run_op(benchmark::State& state, int64_t bytes_per_call, Op op) {
  for (auto _ : state) {
    Tensor out = op();
    benchmark::DoNotOptimize(out.storage()->data());
    benchmark::ClobberMemory();
  }
  bench::report_bytes(state, bytes_per_call);
}

constexpr int64_t kF = sizeof(float);

void BM_memcpy(benchmark::State& state) {
  const int64_t n = g_sizes.numel();
  std::vector<float> src(n, 1.0f), dst(n, 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n * kF);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  bench::report_bytes(state, 2 * n * kF);
}

void BM_add(benchmark::State& state) {
  const Tensor a = random_tensor({g_sizes.rows, g_sizes.cols}, 1), b = random_tensor({g_sizes.rows, g_sizes.cols}, 2);
  run_op(state, 3 * a.numel() * kF, [&] { return add(a, b); });
}

void BM_mul(benchmark::State& state) {
  const Tensor a = random_tensor({g_sizes.rows, g_sizes.cols}, 1), b = random_tensor({g_sizes.rows, g_sizes.cols}, 2);
  run_op(state, 3 * a.numel() * kF, [&] { return mul(a, b); });
}

void BM_exp(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 3);
  run_op(state, 2 * x.numel() * kF, [&] { return exp(x); });
}

void BM_gelu(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 4);
  run_op(state, 2 * x.numel() * kF, [&] { return gelu(x); });
}

void BM_broadcast_add(benchmark::State& state) {
  const Tensor a = random_tensor({g_sizes.rows, g_sizes.cols}, 5), bias = random_tensor({g_sizes.cols}, 6);
  run_op(state, (2 * a.numel() + bias.numel()) * kF, [&] { return add(a, bias); });
}

void BM_sum_last_axis(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 7);
  run_op(state, (x.numel() + g_sizes.rows) * kF, [&] { return sum(x, {1}); });
}

void BM_sum_first_axis(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 8);
  run_op(state, (x.numel() + g_sizes.cols) * kF, [&] { return sum(x, {0}); });
}

void BM_softmax(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 9);
  run_op(state, 2 * x.numel() * kF, [&] { return softmax(x, -1); });
}

void BM_transpose_copy(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 10);
  run_op(state, 2 * x.numel() * kF, [&] { return transpose(x, 0, 1).contiguous(); });
}

// The ops of issue 2 item 4 that move a lot of memory in a language model.
void BM_embedding(benchmark::State& state) {
  const int64_t vocab = 32768, tokens = g_sizes.rows * 2, dim = g_sizes.cols / 2;
  const Tensor weight = random_tensor({vocab, dim}, 11);
  Generator gen(12);
  const Tensor ids = Tensor::rand({tokens}, gen, DType::f64, 0.0, static_cast<double>(vocab)).to(DType::i64);
  run_op(state, (2 * tokens * dim) * kF + tokens * 8, [&] { return embedding(weight, ids); });
}

void BM_cross_entropy(benchmark::State& state) {
  const Tensor logits = random_tensor({g_sizes.rows, g_sizes.cols}, 13);
  Generator gen(14);
  const Tensor targets =
      Tensor::rand({g_sizes.rows}, gen, DType::f64, 0.0, static_cast<double>(g_sizes.cols)).to(DType::i64);
  run_op(state, logits.numel() * kF + g_sizes.rows * 8, [&] { return cross_entropy(logits, targets); });
}

void BM_dropout(benchmark::State& state) {
  const Tensor x = random_tensor({g_sizes.rows, g_sizes.cols}, 15);
  Generator gen(16);
  run_op(state, 2 * x.numel() * kF, [&] { return dropout(x, 0.1, gen, true); });
}

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  using namespace attnscale;
  std::string json_path;
  int threads = 0;
  bool cpu_time = false;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json" && has_value) json_path = argv[++i];
    else if (arg == "--threads" && has_value) threads = std::atoi(argv[++i]);
    else if (arg == "--rows" && has_value) g_sizes.rows = std::atoll(argv[++i]);
    else if (arg == "--cols" && has_value) g_sizes.cols = std::atoll(argv[++i]);
    else if (arg == "--cpu-time") cpu_time = true;
    else rest.push_back(argv[i]);
  }
  set_thread_count(threads);

  for (auto [name, fn] : std::initializer_list<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"BM_memcpy", BM_memcpy}, {"BM_add", BM_add}, {"BM_mul", BM_mul}, {"BM_exp", BM_exp},
           {"BM_gelu", BM_gelu}, {"BM_broadcast_add", BM_broadcast_add}, {"BM_sum_last_axis", BM_sum_last_axis},
           {"BM_sum_first_axis", BM_sum_first_axis}, {"BM_softmax", BM_softmax},
           {"BM_transpose_copy", BM_transpose_copy}, {"BM_embedding", BM_embedding},
           {"BM_cross_entropy", BM_cross_entropy}, {"BM_dropout", BM_dropout}}) {
    auto* b = benchmark::RegisterBenchmark(name, fn)->MinTime(0.2)->Unit(benchmark::kMillisecond);
    if (cpu_time)
      b->MeasureProcessCPUTime();
    else
      b->UseRealTime();
  }

  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  bench::MemcpyRatioReporter reporter(cpu_time);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const std::string what = fmt::format("{} threads, fp32 [{}, {}], {} time; ratio = op GB/s / memcpy GB/s",
                                       thread_count(), g_sizes.rows, g_sizes.cols, cpu_time ? "process CPU" : "wall");
  const nlohmann::json doc = {{"benchmark", "bench_ops"}, {"threads", thread_count()},
                              {"time", cpu_time ? "process_cpu" : "wall"}, {"dtype", "float32"},
                              {"rows", g_sizes.rows}, {"cols", g_sizes.cols}};
  return reporter.print_memcpy_ratios("bench_ops", what, "op", doc, json_path);
}

// bench_checkpoint: the cost of saving and loading a checkpoint, next to writing (and reading) the
// same bytes as one plain file with write + fsync, measured in the same run. A ratio near 1 means
// the HDF5 layout, Fletcher32, SHA-256 and the commit protocol add little to the raw I/O.
//
//   ninja -C build bench_checkpoint && build/bin/bench_checkpoint [--mib M] [--tensors T] [--dir D] [--json FILE]
//
// The model is T float32 parameters of M/T MiB each, with AdamW state (two moments of the same
// size and a step count each), so a save writes about 3 x M MiB. --dir chooses the file system
// (default: the system temp directory); the page cache is not dropped between runs, so loads read
// from memory unless the files are larger than it.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/config/config.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/writer.h"
#include "framework/io/durable_fs.h"
#include "framework/io/sha256.h"
#include "framework/nn/module.h"
#include "framework/optim/adam.h"
#include "benchmarks/json_report.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;

struct Settings {
  std::int64_t mib = 64;
  std::int64_t tensors = 16;
  fs::path dir = fs::temp_directory_path();
};
Settings g_settings;

class Model : public nn::Module {
 public:
  Model(std::int64_t tensors, std::int64_t floats_each) {
    Generator gen(1);
    for (std::int64_t i = 0; i < tensors; ++i)
      register_parameter("layers." + std::to_string(i) + ".weight", Tensor::randn({floats_each / 1024, 1024}, gen));
  }
};

struct Fixture {
  Fixture()
      : root(g_settings.dir / ("attnscale-bench-" + std::to_string(std::random_device{}()))),
        model(g_settings.tensors, g_settings.mib * 1024 * 1024 / 4 / g_settings.tensors),
        optimizer(model.named_parameters(), AdamOptions{}) {
    for (const NamedTensor& s : optimizer.state()) {
      Tensor t = s.tensor;
      t.fill_(0.5);
    }
    content.step = 1;
    content.parameters = model.named_parameters();
    content.optimizer_state = optimizer.state();
    content.optimizer = optimizer.name();
    content.config_yaml = to_yaml(Config{});
    for (const NamedTensor& t : content.parameters) bytes += t.tensor.numel() * 4;
    for (const NamedTensor& t : content.optimizer_state) bytes += t.tensor.numel() * static_cast<int64_t>(dtype_size(t.tensor.dtype()));
    fs::create_directories(root);
  }
  ~Fixture() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  fs::path root;
  Model model;
  AdamW optimizer;
  checkpoint::Content content;
  std::int64_t bytes = 0;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// The tensors' bytes, back to back, written with write() and fsync'ed: the reference.
void BM_raw_write(benchmark::State& state) {
  Fixture& f = fixture();
  const fs::path file = f.root / "raw.bin";
  for (auto _ : state) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    for (const auto* group : {&f.content.parameters, &f.content.optimizer_state})
      for (const NamedTensor& t : *group) {
        const std::size_t n = static_cast<std::size_t>(t.tensor.numel()) * dtype_size(t.tensor.dtype());
        const auto* data = reinterpret_cast<const char*>(t.tensor.storage()->data());
        for (std::size_t done = 0; done < n;) {
          const ssize_t wrote = ::write(fd.get(), data + done, n - done);
          if (wrote <= 0) state.SkipWithError("write failed");
          if (wrote <= 0) return;
          done += static_cast<std::size_t>(wrote);
        }
      }
    ::fsync(fd.get());
    fd.close(file);
  }
  state.counters["bytes_per_call"] = static_cast<double>(f.bytes);
}

void BM_raw_read(benchmark::State& state) {
  Fixture& f = fixture();
  std::vector<char> buffer(std::size_t{8} << 20);
  for (auto _ : state) {
    const UniqueFd fd = open_for_reading(f.root / "raw.bin");
    while (::read(fd.get(), buffer.data(), buffer.size()) > 0) benchmark::ClobberMemory();
  }
  state.counters["bytes_per_call"] = static_cast<double>(f.bytes);
}

void BM_save(benchmark::State& state) {
  Fixture& f = fixture();
  checkpoint::CheckpointWriter writer({f.root / "checkpoints", 1, {}}, nullptr);
  for (auto _ : state) {
    ++f.content.step;
    writer.save(f.content);
  }
  state.counters["bytes_per_call"] = static_cast<double>(f.bytes);
}

void BM_load(benchmark::State& state) {
  Fixture& f = fixture();
  const fs::path dir = f.root / "checkpoints" / checkpoint::step_dir_name(f.content.step);
  for (auto _ : state) {
    const checkpoint::CheckpointReader reader(dir);  // sizes and SHA-256 of every file
    for (const auto group : {checkpoint::kParamsGroup, checkpoint::kOptimizerGroup})
      benchmark::DoNotOptimize(reader.read_group(group).size());
  }
  state.counters["bytes_per_call"] = static_cast<double>(f.bytes);
}

void BM_sha256(benchmark::State& state) {
  Fixture& f = fixture();
  const Tensor& t = f.content.parameters.front().tensor;
  const auto bytes = std::span(t.storage()->data(), static_cast<std::size_t>(t.numel()) * 4);
  for (auto _ : state) benchmark::DoNotOptimize(sha256(bytes));
  state.counters["bytes_per_call"] = static_cast<double>(bytes.size());
}

class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0) continue;
      const double seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
      std::string name = run.benchmark_name();
      name = name.substr(3, name.find('/') - 3);
      seconds_per_call[name] = seconds;
      gb_per_s[name] = run.counters.at("bytes_per_call").value / seconds / 1e9;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> seconds_per_call, gb_per_s;
};

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  using namespace attnscale;
  std::string json_path;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json" && has_value) json_path = argv[++i];
    else if (arg == "--mib" && has_value) g_settings.mib = std::atoll(argv[++i]);
    else if (arg == "--tensors" && has_value) g_settings.tensors = std::atoll(argv[++i]);
    else if (arg == "--dir" && has_value) g_settings.dir = argv[++i];
    else rest.push_back(argv[i]);
  }
  // Order matters: raw_read reads raw_write's file, load reads save's last checkpoint.
  for (auto [name, fn] : std::initializer_list<std::pair<const char*, void (*)(benchmark::State&)>>{
           {"BM_raw_write", BM_raw_write}, {"BM_save", BM_save}, {"BM_raw_read", BM_raw_read},
           {"BM_load", BM_load}, {"BM_sha256", BM_sha256}})
    benchmark::RegisterBenchmark(name, fn)->UseRealTime()->MinTime(1.0)->Unit(benchmark::kMillisecond);
  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const auto& s = reporter.seconds_per_call;
  if (!s.contains("raw_write") || !s.contains("save") || !s.contains("raw_read") || !s.contains("load")) {
    std::fprintf(stderr, "bench_checkpoint: a benchmark was filtered out or failed, so no ratios\n");
    return 1;
  }
  const double save_ratio = s.at("save") / s.at("raw_write"), load_ratio = s.at("load") / s.at("raw_read");
  std::printf("\n%lld MiB of parameters in %lld tensors + AdamW state (%.0f MiB per checkpoint) in %s\n",
              static_cast<long long>(g_settings.mib), static_cast<long long>(g_settings.tensors),
              static_cast<double>(fixture().bytes) / (1 << 20), g_settings.dir.c_str());
  std::printf("save %.1f ms = %.2f x raw write+fsync (%.1f ms); load %.1f ms = %.2f x raw read (%.1f ms); "
              "SHA-256 %.2f GB/s\n",
              s.at("save") * 1e3, save_ratio, s.at("raw_write") * 1e3, s.at("load") * 1e3, load_ratio,
              s.at("raw_read") * 1e3, reporter.gb_per_s.contains("sha256") ? reporter.gb_per_s.at("sha256") : 0.0);
  if (!json_path.empty()) {
    nlohmann::json results = nlohmann::json::object();
    for (const auto& [name, seconds] : s)
      results[name] = {{"ms_per_call", seconds * 1e3}, {"gb_per_s", reporter.gb_per_s.at(name)}};
    const nlohmann::json doc = {{"benchmark", "bench_checkpoint"},
                                {"parameter_mib", g_settings.mib},
                                {"tensors", g_settings.tensors},
                                {"checkpoint_bytes", fixture().bytes},
                                {"dir", g_settings.dir.string()},
                                {"save_over_raw_write", save_ratio},
                                {"load_over_raw_read", load_ratio},
                                {"results", results}};
    if (!bench::write_json_report(doc, json_path, "bench_checkpoint")) return 1;
  }
  return 0;
}

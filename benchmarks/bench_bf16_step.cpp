// bench_bf16_step: one training step (forward, backward, clipping, AdamW: the trainer's) of a
// TransformerLM with model.dtype bf16 against the same step with fp32, measured in the same run,
// alternating the two so that load on the machine hits both alike. Reports tokens/s and the
// step-time ratio bf16 / fp32 (< 1: bf16 is faster), and which bf16 conversion variant and SIMD
// ISA ran.
//
//   ninja -C build bench_bf16_step
//   OMP_NUM_THREADS=1 build/bin/bench_bf16_step [--d-model 256] [--layers 2] [--heads 4]
//       [--seq-len 1024] [--batch 4] [--steps 5] [--rounds 2] [--json FILE]
//
// bf16 as built (docs/ARCHITECTURE.md "Precision") converts operands to float32 on load and rounds
// results on store around float32 kernels, so on the CPU it trades memory for conversions: the
// ratio says what that costs per step.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/threads.h"
#include "benchmarks/json_report.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "kernels/bf16_convert.h"
#include "kernels/isa.h"

namespace attnscale {
namespace {

struct Options {
  int64_t d_model = 256, layers = 2, heads = 4, seq_len = 1024, batch = 4;
  int steps = 5, rounds = 2;
  std::string json_path;
};

Config step_config(const Options& o, config::ModelDType dtype) {
  Config cfg;
  cfg.model.d_model = o.d_model;
  cfg.model.n_layers = o.layers;
  cfg.model.n_heads = o.heads;
  cfg.model.max_seq_len = o.seq_len;
  cfg.model.dtype = dtype;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = o.seq_len;
  cfg.data.batch_size = o.batch;
  cfg.data.vocab_size = 32;
  cfg.optim.grad_clip = 1.0;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  cfg.logging.level = config::LogLevel::warn;
  validate(cfg);
  return cfg;
}

// Seconds of a fresh model's training run of `steps` steps (with the final evaluation).
double run_seconds(Config cfg, int64_t steps) {
  cfg.train.steps = steps;
  train::LMTask task(cfg);
  train::Trainer trainer(cfg, task, nullptr, 0);
  const auto start = std::chrono::steady_clock::now();
  trainer.run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Seconds per step: a run of 1 + steps steps less a run of 1 (the first step's allocations and the
// evaluation cancel).
double step_seconds(const Config& cfg, int steps) { return (run_seconds(cfg, 1 + steps) - run_seconds(cfg, 1)) / steps; }

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  using namespace attnscale;
  Options o;
  CLI::App app("bench_bf16_step: a training step in bf16 against fp32");
  app.add_option("--d-model", o.d_model);
  app.add_option("--layers", o.layers);
  app.add_option("--heads", o.heads);
  app.add_option("--seq-len", o.seq_len);
  app.add_option("--batch", o.batch);
  app.add_option("--steps", o.steps)->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds)->check(CLI::PositiveNumber);
  app.add_option("--json", o.json_path, "write the report here");
  CLI11_PARSE(app, argc, argv);
  set_thread_count(1);

  double fp32 = 1e300, bf16 = 1e300;  // the best of the rounds
  for (int r = 0; r < o.rounds; ++r) {
    fp32 = std::min(fp32, step_seconds(step_config(o, config::ModelDType::fp32), o.steps));
    bf16 = std::min(bf16, step_seconds(step_config(o, config::ModelDType::bf16), o.steps));
  }
  const double tokens = static_cast<double>(o.seq_len * o.batch);
  const double ratio = bf16 / fp32;
  std::printf("fp32 %.3f s/step (%.0f tok/s), bf16 %.3f s/step (%.0f tok/s): bf16 / fp32 = %.3f (%s conversions, %s)\n",
              fp32, tokens / fp32, bf16, tokens / bf16, ratio, kernels::bf16_convert_variant(),
              kernels::isa_name(kernels::active_isa()));
  nlohmann::json report = {{"benchmark", "bf16_step"},
                           {"d_model", o.d_model},
                           {"layers", o.layers},
                           {"heads", o.heads},
                           {"seq_len", o.seq_len},
                           {"batch", o.batch},
                           {"steps", o.steps},
                           {"rounds", o.rounds},
                           {"fp32_step_s", fp32},
                           {"bf16_step_s", bf16},
                           {"fp32_tokens_per_s", tokens / fp32},
                           {"bf16_tokens_per_s", tokens / bf16},
                           {"bf16_over_fp32_step_time", ratio},
                           {"bf16_conversions", kernels::bf16_convert_variant()},
                           {"isa", kernels::isa_name(kernels::active_isa())}};
  if (!o.json_path.empty() && !bench::write_json_report(report, o.json_path, "bench_bf16_step")) return 1;
  return 0;
}

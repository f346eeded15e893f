// bench_decode: greedy decoding speed (new tokens per second, one sequence) of the TransformerLM with
// the per-layer key/value cache against recomputing the whole prefix for every token, for MHA, GQA,
// MQA and MLA (its absorbed and plain paths) at the shapes of configs/papers/mla_novels_*.yaml (matched
// parameter counts). Both ways are measured in the same run on the same weights; the report gives
// tokens/s, cache / no-cache, each scheme's cached speed against cached MHA, and the cache size.
//
//   ninja -C build bench_decode && build/bin/bench_decode [--threads N] [--prompt P] [--tokens T]
//       [--layers L] [--vocab V] [--repeats R] [--json FILE]
//
// Weights are random (decoding cost does not depend on them); each figure is the fastest of
// --repeats runs of P prompt tokens (prefilled) plus T generated tokens.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/threads.h"
#include "benchmarks/json_report.h"
#include "framework/models/lm_decoding.h"
#include "framework/train/mechanisms/registry.h"

namespace attnscale {
namespace {

struct Scheme {
  const char* name;
  const char* mechanism;  // attention.mechanism
  int64_t kv_heads, d_ff;
  attention::LatentPath path;
};

// configs/papers/mla_novels_*.yaml: d_model 128, 8 heads of 16; d_ff evens out the attention's size.
// The block's attention is the mechanism's registration's, with those configs' mla section.
models::TransformerLMOptions options_of(const Scheme& s, int64_t layers, int64_t vocab) {
  models::TransformerLMOptions o;
  o.vocab_size = vocab;
  o.n_layers = layers;
  o.d_ff = s.d_ff;
  o.attention.d_model = 128;
  o.attention.n_heads = 8;
  o.attention.n_kv_heads = s.kv_heads;
  Config cfg;
  cfg.mla.kv_lora_rank = 64;
  cfg.mla.qk_nope_head_dim = 16;
  cfg.mla.qk_rope_head_dim = 8;
  cfg.mla.v_head_dim = 16;
  train::find_mechanism(s.mechanism, config::ModelType::transformer_lm)->transformer_lm(cfg, o);
  return o;
}

double seconds_of(models::TransformerLM& lm, const std::vector<int64_t>& prompt, const models::GenerateOptions& o,
                  int repeats, int64_t* cache_elements) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const models::Generated out = models::generate(lm, prompt, o);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    *cache_elements = out.cache_elements_per_token;
  }
  return best;
}

}  // namespace
}  // namespace attnscale

int main(int argc, char** argv) {
  using namespace attnscale;
  std::string json_path;
  int threads = 1, repeats = 3;
  int64_t prompt_len = 16, new_tokens = 256, layers = 2, vocab = 83;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json" && has_value) json_path = argv[++i];
    else if (arg == "--threads" && has_value) threads = std::atoi(argv[++i]);
    else if (arg == "--prompt" && has_value) prompt_len = std::atoll(argv[++i]);
    else if (arg == "--tokens" && has_value) new_tokens = std::atoll(argv[++i]);
    else if (arg == "--layers" && has_value) layers = std::atoll(argv[++i]);
    else if (arg == "--vocab" && has_value) vocab = std::atoll(argv[++i]);
    else if (arg == "--repeats" && has_value) repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "bench_decode: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (prompt_len < 1 || new_tokens < 1 || layers < 1 || vocab < 2 || repeats < 1) {
    std::fprintf(stderr, "bench_decode: --prompt, --tokens, --layers, --repeats must be >= 1 and --vocab >= 2\n");
    return 2;
  }
  set_thread_count(threads);
  using attention::LatentPath;
  const std::vector<Scheme> schemes{{"MHA", "multi_head", 0, 512, LatentPath::absorbed},
                                    {"GQA-2", "multi_head", 2, 608, LatentPath::absorbed},
                                    {"MQA", "multi_head", 1, 624, LatentPath::absorbed},
                                    {"MLA-absorbed", "multi_head_latent", 0, 508, LatentPath::absorbed},
                                    {"MLA-plain", "multi_head_latent", 0, 508, LatentPath::plain}};
  std::vector<int64_t> prompt(static_cast<size_t>(prompt_len));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int64_t>(i * 7 % static_cast<size_t>(vocab));

  nlohmann::json rows = nlohmann::json::array();
  double mha_cached = 0;
  fmt::print("{:<13} {:>10} {:>12} {:>14} {:>9} {:>10} {:>16}\n", "scheme", "parameters", "cached tok/s",
             "no-cache tok/s", "ratio", "vs MHA", "cache/token/layer");
  for (const Scheme& s : schemes) {
    Generator init(1);
    models::TransformerLM lm(options_of(s, layers, vocab), init);
    models::GenerateOptions o;
    o.new_tokens = new_tokens;
    o.decode.latent_path = s.path;
    int64_t elements = 0, unused = 0;
    const double cached = static_cast<double>(new_tokens) / seconds_of(lm, prompt, o, repeats, &elements);
    o.use_cache = false;
    const double recomputed = static_cast<double>(new_tokens) / seconds_of(lm, prompt, o, repeats, &unused);
    if (rows.empty()) mha_cached = cached;
    const int64_t per_layer = elements / layers;
    fmt::print("{:<13} {:>10} {:>12.1f} {:>14.1f} {:>9.2f} {:>10.2f} {:>16}\n", s.name, lm.parameter_count(), cached,
               recomputed, cached / recomputed, cached / mha_cached, per_layer);
    rows.push_back({{"scheme", s.name},
                    {"parameters", lm.parameter_count()},
                    {"cached_tokens_per_s", cached},
                    {"no_cache_tokens_per_s", recomputed},
                    {"cache_over_no_cache", cached / recomputed},
                    {"cached_over_mha_cached", cached / mha_cached},
                    {"cache_elements_per_token_per_layer", per_layer}});
  }
  const nlohmann::json report = {{"benchmark", "bench_decode"}, {"threads", thread_count()}, {"dtype", "float32"},
                                 {"d_model", 128}, {"heads", 8}, {"layers", layers}, {"vocab", vocab},
                                 {"prompt_tokens", prompt_len}, {"new_tokens", new_tokens}, {"repeats", repeats},
                                 {"reference", "no_cache (same weights, same run) and cached MHA"},
                                 {"schemes", rows}};
  if (!json_path.empty() && !bench::write_json_report(report, json_path, "bench_decode")) return 1;
  return 0;
}

// Rules that involve more than one key. Each message names the keys, their values and where each
// was set, so that a user can tell which of the files or overrides to change.
#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"
#include "base/text.h"
#include "framework/config/config.h"
#include "framework/config/schema.h"

namespace attnscale {
namespace {

using config::fail_rule;

std::string origin_of(const Config& cfg, std::string_view dotted) {
  const auto it = cfg.origins.find(dotted);
  return it == cfg.origins.end() ? "default" : it->second;
}

bool valid_run_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void validate_model(const Config& cfg) {
  const ModelConfig& m = cfg.model;
  if (m.n_kv_heads > 0 && m.n_heads % m.n_kv_heads != 0)
    fail_rule(cfg, {"model.n_kv_heads", "model.n_heads"},
              fmt::format("{} does not divide model.n_heads = {}", m.n_kv_heads, m.n_heads));
  if (m.d_model % m.n_heads != 0)
    fail_rule(cfg, {"model.d_model", "model.n_heads"},
              fmt::format("{} is not divisible by model.n_heads = {}", m.d_model, m.n_heads));
  if (m.activation_checkpointing && m.type != config::ModelType::transformer_lm)
    fail_rule(cfg, {"model.activation_checkpointing", "model.type"},
              fmt::format("applies to model.type = transformer_lm, not {}", config::to_string(m.type)));
  if (cfg.data.seq_len > m.max_seq_len)
    fail_rule(cfg, {"data.seq_len", "model.max_seq_len"},
              fmt::format("{} exceeds model.max_seq_len = {}", cfg.data.seq_len, m.max_seq_len));
}

// Only the TransformerLM and HAN have GPU paths; the RNN, memory and captioning models stay on the CPU.
void validate_device(const Config& cfg) {
  const bool has_gpu_path =
      cfg.model.type == config::ModelType::transformer_lm || cfg.model.type == config::ModelType::han;
  if (cfg.run.device == config::RunDevice::cuda && !has_gpu_path)
    fail_rule(cfg, {"run.device", "model.type"},
              fmt::format("model.type = {} runs on the CPU only (run.device = cuda applies to transformer_lm and han)",
                          config::to_string(cfg.model.type)));
  // bf16 tensors have CPU kernels only (docs/ARCHITECTURE.md "Precision"); the TransformerLM is the
  // model whose bf16 training is tested against float32.
  if (cfg.model.dtype == config::ModelDType::bf16 && cfg.run.device == config::RunDevice::cuda)
    fail_rule(cfg, {"model.dtype", "run.device"},
              "bf16 runs on the CPU only in this build (no bfloat16 CUDA kernels yet): use run.device = cpu, or "
              "model.dtype = fp32 on the GPU");
  if (cfg.model.dtype == config::ModelDType::bf16 && cfg.model.type != config::ModelType::transformer_lm)
    fail_rule(cfg, {"model.dtype", "model.type"},
              fmt::format("bf16 is built for model.type = transformer_lm, not {}: use model.dtype = fp32",
                          config::to_string(cfg.model.type)));
}

void validate_data(const Config& cfg) {
  const DataConfig& d = cfg.data;
  if (d.path.empty() && d.task == config::Task::local_copy && 2 * d.copy_span + 1 > d.seq_len)
    fail_rule(cfg, {"data.copy_span", "data.seq_len"},
              fmt::format("{} needs data.seq_len >= 2 * copy_span + 1 = {} (one chunk and its copy), got {}",
                          d.copy_span, 2 * d.copy_span + 1, d.seq_len));
}

// attention.normalizer reaches the dot-product attention of these models only; the RNN, memory,
// temporal, hierarchical and captioning (sentinel) models always normalise with a softmax.
bool reads_normalizer(config::ModelType type) {
  return type == config::ModelType::transformer_lm || type == config::ModelType::encoder_decoder;
}

void validate_attention(const Config& cfg) {
  const auto names = config::mechanism_names();
  if (std::find(names.begin(), names.end(), cfg.attention.mechanism.name) == names.end())
    fail_rule(cfg, {"attention.mechanism"},
              fmt::format("'{}' is not one of: {}", excerpt(cfg.attention.mechanism.name), fmt::join(names, ", ")));
  if (cfg.attention.mask == config::Mask::window && cfg.attention.window == 0)
    fail_rule(cfg, {"attention.window", "attention.mask"}, "must be > 0 with attention.mask = window");
  if (cfg.attention.normalizer != AttentionConfig{}.normalizer && !reads_normalizer(cfg.model.type))
    fail_rule(cfg, {"attention.normalizer", "model.type"},
              fmt::format("{} would change nothing: model.type = {} does not read attention.normalizer (only "
                          "transformer_lm and encoder_decoder do); remove the key",
                          config::to_string(cfg.attention.normalizer), config::to_string(cfg.model.type)));
  // cuDNN's fused attention takes bf16/fp16 only (kernels/attention_kernel.h), and this build's models
  // train on the GPU in fp32 only (model.dtype bf16 is CPU-only): cudnn could never run.
  if (cfg.attention.kernel == kernels::AttentionKernel::cudnn)
    fail_rule(cfg, {"attention.kernel"},
              "cudnn needs bfloat16 or float16 activations on a GPU (cuDNN's fused attention takes nothing else), "
              "and the models of this build train on GPUs in float32 only (model.dtype = bf16 runs on the CPU): use "
              "auto or own");
}

// halo, sparse_fetch and auto run the TransformerLM's attention by what its mask needs
// (distributed/context_parallel/sequence_parallel_attention.h).
void validate_sequence_parallel_algo(const Config& cfg) {
  const ParallelConfig& p = cfg.parallel;
  const std::string algo(config::to_string(p.algo));
  if (p.ulysses != 1)
    fail_rule(cfg, {"parallel.ulysses", "parallel.algo"},
              fmt::format("{} needs parallel.algo = ulysses or hybrid ({} uses ulysses = 1)", p.ulysses, algo));
  if (cfg.model.type != config::ModelType::transformer_lm)
    fail_rule(cfg, {"parallel.algo", "model.type"},
              fmt::format("{} applies to model.type = transformer_lm, not {}", algo, config::to_string(cfg.model.type)));
}

// What the algorithm needs of the mask, the layout and the normaliser (algo_misfit,
// distributed/parallel_algo.h), said in config keys.
void validate_algo_fit(const Config& cfg) {
  const ParallelConfig& p = cfg.parallel;
  AlgoInputs inputs;
  const config::MechanismRules* mechanism = config::mechanism_rules(cfg);
  inputs.window = cfg.attention.mask == config::Mask::window || (mechanism && mechanism->causal_window);
  inputs.blocks = cfg.attention.mask == config::Mask::block_sparse;
  inputs.contiguous = p.layout == config::Layout::contiguous;
  // Only a TransformerLM's sharded sequences need whole score rows for sparsemax.
  inputs.softmax = cfg.attention.normalizer != config::Normalizer::sparsemax || p.cp == 1 ||
                   cfg.model.type != config::ModelType::transformer_lm;
  const auto need = algo_misfit(p.algo, inputs);
  if (!need) return;
  const std::string_view algo = config::to_string(p.algo);
  const std::string_view mask = config::to_string(cfg.attention.mask);
  switch (*need) {
    case AlgoNeed::window:
      fail_rule(cfg, {"parallel.algo", "attention.mask"},
                fmt::format("{} needs attention.mask = window (got {}): only a sliding window has a halo", algo, mask));
    case AlgoNeed::contiguous_layout:
      fail_rule(cfg, {"parallel.algo", "parallel.layout"},
                fmt::format("{} needs parallel.layout = contiguous (got {}): a window's neighbours sit on the "
                            "adjacent ranks only there",
                            algo, config::to_string(p.layout)));
    case AlgoNeed::block_pattern:
      fail_rule(cfg, {"parallel.algo", "attention.mask"},
                fmt::format("{} needs attention.mask = block_sparse (got {})", algo, mask));
    case AlgoNeed::softmax:
      fail_rule(cfg, {"parallel.algo", "attention.normalizer", "parallel.cp"},
                fmt::format("{} runs softmax attention only: sparsemax needs every score of a row on one rank; use "
                            "all_gather (or auto) with parallel.cp = {}",
                            algo, p.cp));
  }
}

// Every data-parallel rank and micro-step gets the same number of examples; `derived` says how dp
// followed from the world size when parallel.dp = 0.
void validate_batch_split(const Config& cfg, std::int64_t dp, std::string_view derived = "") {
  const std::int64_t batch_split = dp * cfg.train.accum_steps;
  if (cfg.data.batch_size % batch_split != 0)
    fail_rule(cfg, {"data.batch_size", "parallel.dp", "train.accum_steps"},
              fmt::format("{} is not divisible by parallel.dp * train.accum_steps = {} * {}{}", cfg.data.batch_size,
                          dp, cfg.train.accum_steps, derived));
}

void validate_parallel(const Config& cfg) {
  const ParallelConfig& p = cfg.parallel;
  // Only these shard a sequence over a cp group; the RNN, memory and captioning models read a whole
  // sequence (or story, or image) at every step.
  const bool shards_sequences =
      cfg.model.type == config::ModelType::transformer_lm || cfg.model.type == config::ModelType::han;
  if (p.cp > 1 && !shards_sequences)
    fail_rule(cfg, {"parallel.cp", "model.type"},
              fmt::format("{} > 1 needs a model that shards its sequences (transformer_lm or han); model.type = {} "
                          "keeps each example on one rank, so run it data-parallel with parallel.dp and cp = 1",
                          p.cp, config::to_string(cfg.model.type)));
  if (p.cp % p.ulysses != 0)
    fail_rule(cfg, {"parallel.ulysses", "parallel.cp"},
              fmt::format("{} does not divide parallel.cp = {}", p.ulysses, p.cp));
  if (cfg.model.n_heads % p.ulysses != 0)
    fail_rule(cfg, {"parallel.ulysses", "model.n_heads"},
              fmt::format("{} does not divide model.n_heads = {}", p.ulysses, cfg.model.n_heads));
  // A degree the chosen algorithm would ignore is an error, not a silent no-op.
  switch (p.algo) {
    case ParallelAlgo::ring:
      if (p.ulysses != 1)
        fail_rule(cfg, {"parallel.ulysses", "parallel.algo"},
                  fmt::format("{} needs parallel.algo = ulysses or hybrid (ring uses ulysses = 1)", p.ulysses));
      break;
    case ParallelAlgo::ulysses:
      if (p.ulysses != p.cp)
        fail_rule(cfg, {"parallel.ulysses", "parallel.algo", "parallel.cp"},
                  fmt::format("{} must equal parallel.cp = {} with parallel.algo = ulysses", p.ulysses, p.cp));
      break;
    case ParallelAlgo::hybrid:
      if (p.ulysses == 1 || p.ulysses == p.cp)
        fail_rule(cfg, {"parallel.ulysses", "parallel.algo", "parallel.cp"},
                  fmt::format("{} must lie strictly between 1 and parallel.cp = {} with parallel.algo = hybrid",
                              p.ulysses, p.cp));
      break;
    case ParallelAlgo::halo:
    case ParallelAlgo::sparse_fetch:
    case ParallelAlgo::all_gather:
    case ParallelAlgo::auto_:
      validate_sequence_parallel_algo(cfg);
      break;
  }
  validate_algo_fit(cfg);
  // The mechanism's own rules (its registration: framework/train/mechanisms/).
  if (const config::MechanismRules* mechanism = config::mechanism_rules(cfg); mechanism && mechanism->check)
    mechanism->check(cfg);
  if (p.dp > 0) validate_batch_split(cfg, p.dp);  // else validate_world_size checks it
}

void validate_optim(const Config& cfg) {
  const OptimConfig& o = cfg.optim;
  if (o.nesterov && (o.name != config::Optimizer::sgd || o.momentum == 0.0))
    fail_rule(cfg, {"optim.nesterov", "optim.name", "optim.momentum"},
              "Nesterov momentum needs optim.name = sgd and optim.momentum > 0");
}

// Only the translation models decode; eval.* set for another model would silently do nothing.
void validate_eval(const Config& cfg) {
  const bool decodes = cfg.model.type == config::ModelType::seq2seq || cfg.model.type == config::ModelType::encoder_decoder;
  const EvalConfig defaults;
  for (const auto& [key, changed] : {std::pair<std::string_view, bool>{"eval.beam_size", cfg.eval.beam_size != defaults.beam_size},
                                     {"eval.max_len", cfg.eval.max_len != defaults.max_len},
                                     {"eval.length_penalty", cfg.eval.length_penalty != defaults.length_penalty},
                                     {"eval.hypotheses", cfg.eval.hypotheses != defaults.hypotheses}})
    if (changed && !decodes)
      fail_rule(cfg, {key, "model.type"},
                fmt::format("model.type = {} does not decode (seq2seq and encoder_decoder do); remove the key",
                            config::to_string(cfg.model.type)));
  if (cfg.model.type == config::ModelType::encoder_decoder && cfg.eval.max_len > cfg.model.max_seq_len)
    fail_rule(cfg, {"eval.max_len", "model.max_seq_len"},
              fmt::format("{} exceeds model.max_seq_len = {}", cfg.eval.max_len, cfg.model.max_seq_len));
}

}  // namespace

void config::fail_rule(const Config& cfg, std::initializer_list<std::string_view> keys, std::string_view problem) {
  std::string origins;
  for (const std::string_view key : keys)
    origins += fmt::format("{}{}: {}", origins.empty() ? "" : "; ", key, origin_of(cfg, key));
  throw ConfigError(fmt::format("[config] {}: {} ({})", *keys.begin(), problem, origins));
}

void validate(const Config& cfg) {
  if (!valid_run_name(cfg.run.name))
    fail_rule(cfg, {"run.name"},
              fmt::format("'{}' is not a valid run name (letters, digits, '.', '_' and '-')", excerpt(cfg.run.name)));
  if (cfg.train.resume.empty())
    fail_rule(cfg, {"train.resume"}, "must be auto, none or a checkpoint path");
  validate_model(cfg);
  validate_device(cfg);
  validate_data(cfg);
  validate_attention(cfg);
  validate_parallel(cfg);
  validate_optim(cfg);
  validate_eval(cfg);
}

void validate_world_size(const Config& cfg, int world_size) {
  const ParallelConfig& p = cfg.parallel;
  const std::string ranks = fmt::format("{} rank{}", world_size, world_size == 1 ? "" : "s");
  if (p.dp > 0) {
    if (p.dp * p.cp != world_size)
      fail_rule(cfg, {"parallel.dp", "parallel.cp"},
                fmt::format("parallel.dp * parallel.cp = {} * {} = {}, but the job has {}", p.dp, p.cp, p.dp * p.cp,
                            ranks));
    return;  // validate() checked the batch split
  }
  if (world_size % p.cp != 0)
    fail_rule(cfg, {"parallel.cp"},
              fmt::format("{} does not divide the job's {} (parallel.dp = 0 takes the ranks / parallel.cp)", p.cp,
                          ranks));
  validate_batch_split(cfg, data_parallel_size(p, world_size),
                       fmt::format(" (parallel.dp = 0: the job's {} / parallel.cp = {})", ranks, p.cp));
}

}  // namespace attnscale

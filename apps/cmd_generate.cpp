// attnscale generate CONFIG [section.key=value ...] --prompt TEXT [--tokens N] [--temperature T]
//
// Continues a prompt with a trained TransformerLM: builds the model the config describes, loads the
// checkpoint train.resume names (as eval does) and decodes one token at a time with a key/value cache
// per layer (framework/models/lm_decoding.h). The prompt is text in the corpus's unit (data.path:
// characters or words, unknown ones become <unk>) or, on a synthetic task, --prompt-ids. Prints the
// prompt and its continuation, and a JSON line: tokens/s, and what the cache holds per token.
//   --no-cache             recompute the whole prefix every step (the reference; the same tokens)
//   --latent-path plain    MLA: up-project the cached latents instead of the absorbed weights
// One process: the cache holds whole sequences (parallel.cp = 1).
#include <chrono>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apps/commands.h"
#include "apps/job.h"
#include "base/logging.h"
#include "framework/data/tokenizer.h"
#include "framework/models/lm_decoding.h"
#include "framework/train/lm_task.h"

namespace attnscale::app {
namespace {

struct GenerateArguments {
  std::string prompt;
  std::vector<int64_t> prompt_ids;
  bool no_cache = false;
  models::GenerateOptions options;
};

// The prompt's token ids in the corpus's vocabulary and unit.
std::vector<int64_t> encode(const data::DocCorpus& corpus, const std::string& text) {
  const data::Vocabulary vocab(corpus.vocabulary);
  std::vector<std::string> pieces;
  if (corpus.unit == data::TokenUnit::character) {
    pieces = data::split_characters(text);
  } else {
    for (auto& sentence : data::tokenize_document(text)) pieces.insert(pieces.end(), sentence.begin(), sentence.end());
  }
  std::vector<int64_t> ids;
  int64_t unknown = 0;
  for (const std::string& piece : pieces) {
    ids.push_back(vocab.id(piece));
    unknown += ids.back() == data::Vocabulary::kUnk;
  }
  if (unknown > 0) LOG_WARN("[generate] {} prompt token(s) are not in the vocabulary: read as <unk>", unknown);
  return ids;
}

std::string decode(const data::DocCorpus& corpus, const std::vector<int64_t>& ids) {
  std::string text;
  for (const int64_t id : ids) {
    if (corpus.unit == data::TokenUnit::word && !text.empty()) text += ' ';
    text += corpus.vocabulary[static_cast<size_t>(id)];
  }
  return text;
}

int generate_job(const Config& cfg, const MpiEnvironment& mpi, const GenerateArguments& args) {
  require_checkpoint(cfg, "generate");
  if (cfg.model.type != config::ModelType::transformer_lm)
    throw ConfigError(fmt::format("[config] model.type: attnscale generate decodes transformer_lm, not {}",
                                  config::to_string(cfg.model.type)));
  if (mpi.world_size() != 1 || cfg.parallel.cp != 1)
    throw ConfigError("[config] parallel.cp: attnscale generate runs on one process (its cache holds whole sequences)");
  RankSetup rank(cfg, mpi);
  train::LMTask task(cfg, rank.parallel);
  const LoadedCheckpoint loaded = load_checkpoint_into(cfg, task.model(), "generate");
  const auto& corpus = task.corpus();

  std::vector<int64_t> prompt = args.prompt_ids;
  if (!args.prompt.empty()) {
    if (!corpus)
      throw UsageError("[generate] --prompt is text in a corpus's vocabulary, and data.path is empty: give --prompt-ids");
    prompt = encode(*corpus, args.prompt);
  }
  if (prompt.empty()) throw UsageError("[generate] give a non-empty --prompt or --prompt-ids");
  const int64_t total = static_cast<int64_t>(prompt.size()) + args.options.new_tokens;
  if (total > cfg.model.max_seq_len)
    throw UsageError(fmt::format("[generate] the prompt ({} tokens) and --tokens {} make {} tokens, longer than "
                                 "model.max_seq_len = {}",
                                 prompt.size(), args.options.new_tokens, total, cfg.model.max_seq_len));

  models::TransformerLM& model = task.lm();
  const auto start = std::chrono::steady_clock::now();
  const models::Generated out = models::generate(model, prompt, args.options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const std::vector<int64_t> continuation(out.tokens.begin() + static_cast<std::ptrdiff_t>(prompt.size()),
                                          out.tokens.end());
  if (corpus)
    fmt::print("{}\n", decode(*corpus, out.tokens));
  else
    fmt::print("{}\n", fmt::join(out.tokens, " "));
  const int64_t layers = cfg.model.n_layers;
  const bool mla = cfg.attention.mechanism.name == "multi_head_latent";
  fmt::print("{{\"checkpoint\": \"{}\", \"step\": {}, \"prompt_tokens\": {}, \"new_tokens\": {}, \"seconds\": {:.6f}, "
             "\"tokens_per_s\": {:.3f}, \"cache\": {}, \"latent_path\": \"{}\", "
             "\"cache_elements_per_token_per_layer\": {}}}\n",
             loaded.dir.string(), loaded.step, prompt.size(), continuation.size(), seconds,
             seconds > 0 ? static_cast<double>(continuation.size()) / seconds : 0.0, args.options.use_cache,
             !mla ? "n/a" : args.options.decode.latent_path == attention::LatentPath::absorbed ? "absorbed" : "plain",
             out.cache_elements_per_token / layers);
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "continue a prompt with a trained transformer_lm (train.resume), "
                                             "decoding with a per-layer key/value cache");
  auto config_args = add_config_arguments(*cmd);
  auto args = std::make_shared<GenerateArguments>();
  cmd->add_option("--prompt", args->prompt, "prompt text, in the unit of the corpus data.path names");
  cmd->add_option("--prompt-ids", args->prompt_ids, "prompt as token ids (synthetic tasks)")->excludes("--prompt");
  cmd->add_option("--tokens", args->options.new_tokens, "tokens to generate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", args->options.temperature, "0 = greedy (argmax); > 0 = sample softmax(logits / T)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", args->options.seed, "seed of the sampling stream")->capture_default_str();
  cmd->add_flag("--no-cache", args->no_cache, "recompute the whole prefix for every token (no key/value cache)");
  const std::map<std::string, attention::LatentPath> paths{{"absorbed", attention::LatentPath::absorbed},
                                                           {"plain", attention::LatentPath::plain}};
  cmd->add_option("--latent-path", args->options.decode.latent_path,
                  "multi_head_latent: absorbed (W_UK into the query, W_UV into the output) or plain (up-project "
                  "the cached latents)")
      ->transform(CLI::CheckedTransformer(paths))
      ->default_str("absorbed");
  cmd->callback([config_args, args] {
    args->options.use_cache = !args->no_cache;
    run_config_job(*config_args, [args](const Config& cfg, const MpiEnvironment& mpi) {
      return generate_job(cfg, mpi, *args);
    });
  });
}

}  // namespace attnscale::app

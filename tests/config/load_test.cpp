// Loading: base chains, precedence, overrides, typed values, round trips and consistency rules.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/config/config.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

using testing::TempDir;
using testing::write_file;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.exit_code(), ExitCode::usage);
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return {};
}

TEST(Load, EmptyFileGivesTheDefaults) {
  TempDir dir;
  write_file(dir / "empty.yaml", "# nothing but a comment\n");
  EXPECT_EQ(to_yaml(load_config(dir / "empty.yaml")), to_yaml(Config{}));
  write_file(dir / "empty_sections.yaml", "model:\noptim:\n");
  EXPECT_EQ(to_yaml(load_config(dir / "empty_sections.yaml")), to_yaml(Config{}));
}

TEST(Load, PrecedenceIsDefaultsThenBaseThenFileThenOverrides) {
  TempDir dir;
  write_file(dir / "shared" / "base.yaml", "optim:\n  lr: 0.5\n  weight_decay: 0.2\nmodel:\n  n_layers: 6\n");
  // `base:` is written after the keys on purpose: the base applies first wherever it stands.
  write_file(dir / "exp" / "run.yaml", "optim:\n  lr: 0.25\nbase: ../shared/base.yaml\n");
  const std::vector<std::string> overrides{"optim.lr=0.125", "model.n_layers=3", "model.n_layers=4"};
  const Config cfg = load_config(dir / "exp" / "run.yaml", overrides);
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 0.125);         // override beats file
  EXPECT_DOUBLE_EQ(cfg.optim.weight_decay, 0.2);  // base beats default, untouched by the file
  EXPECT_EQ(cfg.model.n_layers, 4);               // the last override wins
  EXPECT_EQ(cfg.model.d_model, 128);              // default
  EXPECT_EQ(cfg.origins.at("optim.weight_decay"), (dir / "exp" / "../shared/base.yaml").lexically_normal().string() + ":3:17");
  EXPECT_EQ(cfg.origins.at("model.n_layers"), "command line 'model.n_layers=4'");
  EXPECT_EQ(cfg.origins.count("model.d_model"), 0u);

  const Config file_only = load_config(dir / "exp" / "run.yaml");
  EXPECT_DOUBLE_EQ(file_only.optim.lr, 0.25);  // file beats base
}

TEST(Load, BaseChainsResolveRelativeToEachFile) {
  TempDir dir;
  write_file(dir / "a" / "b" / "c.yaml", "train:\n  steps: 7\n  log_every: 3\n");
  write_file(dir / "a" / "middle.yaml", "base: b/c.yaml\ntrain:\n  steps: 8\n");
  write_file(dir / "top.yaml", "base: a/middle.yaml\n");
  const Config cfg = load_config(dir / "top.yaml");
  EXPECT_EQ(cfg.train.steps, 8);
  EXPECT_EQ(cfg.train.log_every, 3);
}

TEST(Load, ADiamondOfBasesIsNotACycle) {
  TempDir dir;
  write_file(dir / "common.yaml", "run:\n  seed: 7\n");
  write_file(dir / "left.yaml", "base: common.yaml\n");
  write_file(dir / "right.yaml", "base: left.yaml\noptim:\n  lr: 0.5\n");
  EXPECT_EQ(load_config(dir / "right.yaml").run.seed, 7);
}

TEST(Load, ValuesAreTypedStrictly) {
  Config cfg;
  apply_override(cfg, "train.steps=1e4");  // exact integer in float notation
  EXPECT_EQ(cfg.train.steps, 10000);
  apply_override(cfg, "run.seed=+5");
  EXPECT_EQ(cfg.run.seed, 5);
  apply_override(cfg, "optim.lr=1");  // an integer is a fine float
  EXPECT_DOUBLE_EQ(cfg.optim.lr, 1.0);
  apply_override(cfg, "model.tie_embeddings=False");
  EXPECT_FALSE(cfg.model.tie_embeddings);
  apply_override(cfg, "run.dir=");  // strings are verbatim, empty included
  EXPECT_EQ(cfg.run.dir, "");
  apply_override(cfg, "train.resume=ckpt/step 10: best");
  EXPECT_EQ(cfg.train.resume, "ckpt/step 10: best");
  apply_override(cfg, "logging.progress=auto");
  EXPECT_EQ(cfg.logging.progress, config::ProgressMode::auto_);

  EXPECT_NE(error_of([&] { apply_override(cfg, "train.steps=1e30"); }).find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(cfg, "train.steps=0"); }).find("must be >= 1"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(cfg, "optim.lr=nan"); }).find("finite"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(cfg, "optim.lr="); }).find("missing value"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(cfg, "=3"); }).find("expected section.key=value"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_override(cfg, "steps=3"); }).find("did you mean 'train.steps'?"), std::string::npos);
}

TEST(Load, ToYamlRoundTripsAwkwardValues) {
  Config cfg;
  cfg.run.name = "run-1.b_c";
  cfg.run.dir = "out/with \"quotes\", colons: # and a \\ backslash, tab\t, newline\n and ünïcode";
  cfg.optim.lr = 0.1 + 0.2;  // 0.30000000000000004 must survive exactly
  cfg.optim.eps = 1e-300;
  cfg.parallel.timeout_s = 1e20;
  cfg.model.rope_theta = 500000.0;
  cfg.attention.mechanism = "multi_head_latent";
  cfg.logging.progress = config::ProgressMode::off;
  cfg.model.tie_embeddings = false;
  TempDir dir;
  write_file(dir / "shown.yaml", to_yaml(cfg));
  const Config back = load_config(dir / "shown.yaml");
  EXPECT_EQ(to_yaml(back), to_yaml(cfg));
  EXPECT_EQ(back.run.dir, cfg.run.dir);
  EXPECT_EQ(back.optim.lr, cfg.optim.lr);
  EXPECT_EQ(back.optim.eps, cfg.optim.eps);
  EXPECT_EQ(back.attention.mechanism, "multi_head_latent");
  write_file(dir / "commented.yaml", to_yaml(cfg, YamlStyle::commented));
  EXPECT_EQ(to_yaml(load_config(dir / "commented.yaml")), to_yaml(cfg));
}

TEST(Load, MissingFileIsAConfigError) {
  EXPECT_NE(error_of([] { load_config("/no/such/dir/x.yaml"); }).find("'/no/such/dir/x.yaml' not found"),
            std::string::npos);
  TempDir dir;
  EXPECT_NE(error_of([&] { load_config(dir.path()); }).find("is not a readable file"), std::string::npos);
}

TEST(Validate, ConsistencyRulesNameEveryKeyAndWhereItWasSet) {
  TempDir dir;
  write_file(dir / "x.yaml", "model:\n  n_heads: 8\nparallel:\n  cp: 4\n  ulysses: 4\n  algo: hybrid\n");
  const std::string message = error_of([&] { load_config(dir / "x.yaml"); });
  EXPECT_NE(message.find("parallel.ulysses: 4 must lie strictly between 1 and parallel.cp = 4"), std::string::npos)
      << message;
  EXPECT_NE(message.find("parallel.algo: " + (dir / "x.yaml").string() + ":6:9"), std::string::npos) << message;

  Config cfg;
  cfg.parallel.cp = 4;
  cfg.parallel.ulysses = 4;
  cfg.parallel.algo = ParallelAlgo::ulysses;
  EXPECT_NO_THROW(validate(cfg));
  cfg.model.n_heads = 6;
  cfg.model.d_model = 120;
  EXPECT_NE(error_of([&] { validate(cfg); }).find("parallel.ulysses: 4 does not divide model.n_heads = 6"),
            std::string::npos);
  Config sgd;
  sgd.optim.nesterov = true;
  EXPECT_NE(error_of([&] { validate(sgd); }).find("optim.nesterov"), std::string::npos);
  sgd.optim.name = config::Optimizer::sgd;
  EXPECT_NO_THROW(validate(sgd));
}

TEST(Validate, HaloAndSparseFetchNeedTheMaskTheyServe) {
  TempDir dir;
  write_file(dir / "x.yaml", "parallel:\n  cp: 2\n  algo: halo\n");
  std::string message = error_of([&] { load_config(dir / "x.yaml"); });
  EXPECT_NE(message.find("parallel.algo: halo needs attention.mask = window (got causal)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("parallel.algo: " + (dir / "x.yaml").string() + ":3:9"), std::string::npos) << message;

  Config cfg;
  cfg.parallel.cp = 2;
  cfg.parallel.algo = ParallelAlgo::halo;
  cfg.attention.mask = config::Mask::window;
  EXPECT_NE(error_of([&] { validate(cfg); }).find("halo needs parallel.layout = contiguous (got zigzag)"),
            std::string::npos);
  cfg.parallel.layout = config::Layout::contiguous;
  EXPECT_NO_THROW(validate(cfg));
  cfg.parallel.algo = ParallelAlgo::sparse_fetch;
  EXPECT_NE(error_of([&] { validate(cfg); }).find("sparse_fetch needs attention.mask = block_sparse (got window)"),
            std::string::npos);
  cfg.attention.mask = config::Mask::block_sparse;
  EXPECT_NO_THROW(validate(cfg));
  cfg.parallel.algo = ParallelAlgo::auto_;
  EXPECT_NO_THROW(validate(cfg));
  cfg.parallel.ulysses = 2;
  EXPECT_NE(error_of([&] { validate(cfg); }).find("parallel.ulysses: 2 needs parallel.algo = ulysses or hybrid (auto"),
            std::string::npos);
  cfg.parallel.ulysses = 1;
  cfg.model.type = config::ModelType::han;
  EXPECT_NE(error_of([&] { validate(cfg); }).find("parallel.algo: auto applies to model.type = transformer_lm, not han"),
            std::string::npos);
}

TEST(Validate, ShardedSparsemaxNeedsAllGather) {
  Config cfg;
  cfg.attention.normalizer = config::Normalizer::sparsemax;
  cfg.parallel.cp = 2;
  EXPECT_NE(error_of([&] { validate(cfg); })
                .find("parallel.algo: ring runs softmax attention only: sparsemax needs every score of a row on one "
                      "rank; use all_gather (or auto)"),
            std::string::npos);
  cfg.parallel.algo = ParallelAlgo::all_gather;
  EXPECT_NO_THROW(validate(cfg));
  cfg.parallel.algo = ParallelAlgo::auto_;
  EXPECT_NO_THROW(validate(cfg));
}

TEST(Validate, ShardedAdaptiveSpanNeedsTheHaloOnAContiguousLayout) {
  Config cfg;
  cfg.attention.mechanism = "adaptive";
  cfg.parallel.cp = 2;
  EXPECT_NE(error_of([&] { validate(cfg); })
                .find("use parallel.algo = halo (or auto) and parallel.layout = contiguous, got ring and zigzag"),
            std::string::npos);
  cfg.parallel.algo = ParallelAlgo::halo;
  cfg.parallel.layout = config::Layout::contiguous;
  EXPECT_NO_THROW(validate(cfg));  // the span is the window: attention.mask stays causal
}

TEST(Validate, UlyssesCannotSplitLatentAttention) {
  Config cfg;
  cfg.model.n_heads = 4;
  cfg.attention.mechanism = "multi_head_latent";
  cfg.parallel.cp = 2;
  EXPECT_NO_THROW(validate(cfg));  // ring
  cfg.parallel.ulysses = 2;
  cfg.parallel.algo = ParallelAlgo::ulysses;
  EXPECT_NE(error_of([&] { validate(cfg); })
                .find("parallel.algo: ulysses cannot split multi_head_latent's one shared latent key/value head"),
            std::string::npos);
}

TEST(Validate, ContextParallelNeedsAModelThatShardsSequences) {
  TempDir dir;
  write_file(dir / "x.yaml", "model:\n  type: seq2seq\nattention:\n  mechanism: soft\nparallel:\n  cp: 2\n");
  const std::string message = error_of([&] { load_config(dir / "x.yaml"); });
  EXPECT_NE(message.find("parallel.cp: 2 > 1 needs a model that shards its sequences (transformer_lm or han); "
                         "model.type = seq2seq keeps each example on one rank"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("parallel.cp: " + (dir / "x.yaml").string() + ":6:7"), std::string::npos) << message;
  EXPECT_NE(message.find("model.type: " + (dir / "x.yaml").string() + ":2:9"), std::string::npos) << message;

  for (const auto type : {config::ModelType::seq2seq, config::ModelType::encoder_decoder, config::ModelType::captioner,
                          config::ModelType::memn2n, config::ModelType::temporal}) {
    Config cfg;
    cfg.model.type = type;
    cfg.parallel.dp = 4;
    EXPECT_NO_THROW(validate(cfg)) << config::to_string(type);  // data parallelism is fine
    cfg.parallel.dp = 2;
    cfg.parallel.cp = 2;
    EXPECT_NE(error_of([&] { validate(cfg); })
                  .find(fmt::format("model.type = {} keeps each example on one rank", config::to_string(type))),
              std::string::npos)
        << config::to_string(type);
  }
  for (const auto type : {config::ModelType::transformer_lm, config::ModelType::han}) {
    Config cfg;
    cfg.model.type = type;
    cfg.parallel.cp = 2;
    EXPECT_NO_THROW(validate(cfg)) << config::to_string(type);
  }
}

// attention.normalizer is read by the dot-product models only; elsewhere a value other than the
// default is an error naming the model type, never a silent no-op.
TEST(Validate, NormalizerOnlyForModelsThatReadIt) {
  for (const std::string_view name : config::enum_names<config::ModelType>()) {
    const config::ModelType type = *config::enum_from_string<config::ModelType>(name);
    Config cfg;
    cfg.model.type = type;
    EXPECT_NO_THROW(validate(cfg)) << config::to_string(type);  // the default is fine everywhere
    cfg.attention.normalizer = config::Normalizer::sparsemax;
    cfg.origins["attention.normalizer"] = "x.yaml:3:15";
    const bool reads = type == config::ModelType::transformer_lm || type == config::ModelType::encoder_decoder;
    if (reads) {
      EXPECT_NO_THROW(validate(cfg)) << config::to_string(type);
      continue;
    }
    EXPECT_NE(error_of([&] { validate(cfg); })
                  .find(fmt::format("[config] attention.normalizer: sparsemax would change nothing: model.type = {} "
                                    "does not read attention.normalizer",
                                    config::to_string(type))),
              std::string::npos)
        << config::to_string(type);
    EXPECT_NE(error_of([&] { validate(cfg); }).find("attention.normalizer: x.yaml:3:15"), std::string::npos);
  }
}

TEST(Validate, WorldSizeMustEqualDpTimesCp) {
  Config cfg;
  cfg.parallel.dp = 2;
  cfg.parallel.cp = 2;
  EXPECT_NO_THROW(validate_world_size(cfg, 4));
  EXPECT_NE(error_of([&] { validate_world_size(cfg, 2); })
                .find("parallel.dp: parallel.dp * parallel.cp = 2 * 2 = 4, but the job has 2 ranks"),
            std::string::npos);
}

// Megatron / torchrun style: without parallel.dp the ranks left over by context parallelism are
// data-parallel replicas.
TEST(Validate, DpDefaultsToTheRanksOverCp) {
  EXPECT_EQ(Config{}.parallel.dp, 0);
  for (const auto& [world, cp, dp] : {std::tuple{1, 1, 1}, {2, 1, 2}, {4, 2, 2}, {8, 4, 2}, {4, 4, 1}}) {
    Config cfg;
    cfg.parallel.cp = cp;
    EXPECT_NO_THROW(validate_world_size(cfg, world)) << world << " ranks, cp " << cp;
    EXPECT_EQ(data_parallel_size(cfg.parallel, world), dp) << world << " ranks, cp " << cp;
    EXPECT_EQ(micro_batch_size(cfg, dp), cfg.data.batch_size / dp);
  }
  Config odd;
  odd.parallel.cp = 4;
  EXPECT_NE(error_of([&] { validate_world_size(odd, 6); })
                .find("parallel.cp: 4 does not divide the job's 6 ranks (parallel.dp = 0 takes the ranks / parallel.cp)"),
            std::string::npos);
  // The batch must still split over the derived replicas; the message says where dp came from.
  Config batch;
  batch.data.batch_size = 6;
  const std::string message = error_of([&] { validate_world_size(batch, 4); });
  EXPECT_NE(message.find("data.batch_size: 6 is not divisible by parallel.dp * train.accum_steps = 4 * 1 "
                         "(parallel.dp = 0: the job's 4 ranks / parallel.cp = 1)"),
            std::string::npos)
      << message;
}

TEST(Derived, ZeroMeansDerive) {
  ModelConfig model;
  EXPECT_EQ(kv_heads(model), 4);
  EXPECT_EQ(ff_width(model), 512);
  EXPECT_EQ(head_dim(model), 32);
  model.n_kv_heads = 2;
  model.d_ff = 100;
  EXPECT_EQ(kv_heads(model), 2);
  EXPECT_EQ(ff_width(model), 100);
  AttentionConfig attention;
  EXPECT_DOUBLE_EQ(kernels::score_scale(attention.scale, 64), 0.125);
  attention.scale = 0.5;
  EXPECT_DOUBLE_EQ(kernels::score_scale(attention.scale, 64), 0.5);
  Config cfg;
  cfg.data.batch_size = 24;
  cfg.parallel.dp = 2;
  cfg.train.accum_steps = 3;
  EXPECT_EQ(micro_batch_size(cfg, 2), 4);
  EXPECT_THROW(micro_batch_size(cfg, 4), UsageError);  // a grid that contradicts parallel.dp
}

TEST(Validate, RunDeviceCudaOnlyForModelsWithAGpuPath) {
  TempDir dir;
  write_file(dir / "empty.yaml", "");
  for (const char* type : {"seq2seq", "encoder_decoder", "captioner", "memn2n", "temporal"}) {
    SCOPED_TRACE(type);
    const std::vector<std::string> overrides{fmt::format("model.type={}", type), "run.device=cuda"};
    const std::string message = error_of([&] { load_config(dir / "empty.yaml", overrides); });
    EXPECT_NE(message.find(fmt::format("[config] run.device: model.type = {} runs on the CPU only", type)),
              std::string::npos)
        << message;
  }
  for (const char* type : {"transformer_lm", "han"}) {
    const std::vector<std::string> overrides{fmt::format("model.type={}", type), "run.device=cuda"};
    EXPECT_EQ(load_config(dir / "empty.yaml", overrides).run.device, config::RunDevice::cuda);
  }
  const Config defaults = load_config(dir / "empty.yaml");
  EXPECT_EQ(defaults.run.device, config::RunDevice::cpu);
  EXPECT_FALSE(defaults.run.allow_tf32);
}

}  // namespace
}  // namespace attnscale

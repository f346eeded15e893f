// Cached decoding of the TransformerLM (fp64): for MHA, GQA, MQA, MLA (plain and absorbed path) and
// masks / normalisers that MultiHeadAttention takes, the logits of a prompt prefill followed by one
// token at a time equal the full forward's at every position; what each cache holds per token; the
// generation loop gives the same tokens with and without the cache.
#include <gtest/gtest.h>

#include "framework/attention/mla.h"
#include "framework/attention/multi_head.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "framework/models/lm_decoding.h"
#include "framework/train/mechanisms/registry.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using attention::LatentPath;

// The mechanism's module as its registration installs it, with its config section (mla, adaptive_span).
void install(std::string_view mechanism, models::TransformerLMOptions& o) {
  Config cfg;
  cfg.mla.kv_lora_rank = 6;
  cfg.mla.qk_nope_head_dim = 4;
  cfg.mla.qk_rope_head_dim = 2;
  cfg.mla.v_head_dim = 3;
  cfg.mla.q_lora_rank = 5;
  cfg.adaptive_span.max_span = 8;
  const train::Mechanism* m = train::find_mechanism(mechanism, config::ModelType::transformer_lm);
  ASSERT_NE(m, nullptr) << mechanism;
  m->transformer_lm(cfg, o);
}

models::TransformerLMOptions small_lm(std::string_view mechanism, int64_t kv_heads) {
  models::TransformerLMOptions o;
  o.vocab_size = 11;
  o.n_layers = 2;
  o.d_ff = 24;
  o.attention.d_model = 16;
  o.attention.n_heads = 4;
  o.attention.n_kv_heads = kv_heads;
  install(mechanism, o);
  return o;
}

Tensor random_ids(int64_t b, int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int64_t> ids(static_cast<size_t>(b * n));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(Generator::uniform(seed, i) * vocab) % vocab;
  return Tensor::from(ids, {b, n});
}

// Prefill `prefill` tokens, then one at a time; the logits of every position, concatenated.
Tensor cached_logits(const models::TransformerLM& lm, const Tensor& ids, int64_t prefill,
                     const attention::DecodeOptions& options, int64_t* elements = nullptr) {
  models::LMDecodeState state = lm.start_decoding(options);
  std::vector<Tensor> parts{lm.forward_cached(narrow(ids, 1, 0, prefill), state)};
  for (int64_t t = prefill; t < ids.shape()[1]; ++t) parts.push_back(lm.forward_cached(narrow(ids, 1, t, 1), state));
  EXPECT_EQ(state.length(), ids.shape()[1]);
  if (elements) *elements = state.elements_per_token();
  return concat(parts, 1);
}

struct Case {
  const char* name;
  const char* mechanism;
  int64_t kv_heads;
  int64_t cache_per_token_per_layer;  // 2 n_kv d_h (d_h = 4), or d_c + d_h^R
};

TEST(LMDecoding, CachedLogitsEqualTheFullForwardAtEveryPosition) {
  autograd::NoGradGuard no_grad;
  const std::vector<Case> cases{{"MHA", "multi_head", 0, 2 * 4 * 4},
                                {"GQA-2", "multi_head", 2, 2 * 2 * 4},
                                {"MQA", "multi_head", 1, 2 * 1 * 4},
                                {"MLA", "multi_head_latent", 0, 6 + 2}};
  const Tensor ids = random_ids(2, 9, 11, 3);
  for (const Case& c : cases)
    for (const bool fused : {true, false}) {
      models::TransformerLMOptions o = small_lm(c.mechanism, c.kv_heads);
      o.attention.fused = fused;
      Generator init(7), no_dropout(0);
      models::TransformerLM lm(o, init, DType::f64);
      lm.train(false);
      const Tensor full = lm.forward(ids, Tensor::arange(9), no_dropout);
      for (const LatentPath path : {LatentPath::plain, LatentPath::absorbed})
        for (const int64_t prefill : {1, 4, 9}) {
          int64_t elements = 0;
          const Tensor cached = cached_logits(lm, ids, prefill, {path}, &elements);
          EXPECT_LT(test::max_abs_diff(cached, full), 1e-11)
              << c.name << " fused " << fused << " prefill " << prefill << " absorbed " << (path == LatentPath::absorbed);
          EXPECT_EQ(elements, o.n_layers * c.cache_per_token_per_layer) << c.name;
        }
    }
}

TEST(LMDecoding, AbsorbedPathGivesThePlainPathsLogits) {
  autograd::NoGradGuard no_grad;
  Generator init(11);
  models::TransformerLM lm(small_lm("multi_head_latent", 0), init, DType::f64);
  lm.train(false);
  const Tensor ids = random_ids(3, 7, 11, 5);
  const Tensor plain = cached_logits(lm, ids, 2, {LatentPath::plain});
  const Tensor absorbed = cached_logits(lm, ids, 2, {LatentPath::absorbed});
  EXPECT_LT(test::max_abs_diff(plain, absorbed), 1e-12);
  EXPECT_GT(test::max_abs_diff(plain, cached_logits(lm, random_ids(3, 7, 11, 6), 2, {LatentPath::plain})), 1e-3)
      << "different tokens must give different logits";
}

TEST(LMDecoding, WindowAndBlockSparseMasksAndSparsemaxDecodeLikeTheFullForward) {
  autograd::NoGradGuard no_grad;
  const Tensor ids = random_ids(1, 12, 11, 9);
  for (int variant = 0; variant < 3; ++variant) {
    models::TransformerLMOptions o = small_lm("multi_head", 2);
    if (variant == 0) o.attention.mask.window = kernels::Window{2, 0};
    if (variant == 1) {
      install("sparse", o);
      o.attention.normalizer = kernels::Normalizer::sparsemax;
      o.attention.mask.blocks =
          std::make_shared<kernels::BlockPattern>(kernels::BlockPattern::strided(2, 6, 2, true));
    }
    if (variant == 2) {
      o = small_lm("multi_head_latent", 0);
      o.attention.mask.window = kernels::Window{4, 0};
    }
    Generator init(13), no_dropout(0);
    models::TransformerLM lm(o, init, DType::f64);
    lm.train(false);
    const Tensor full = lm.forward(ids, Tensor::arange(12), no_dropout);
    EXPECT_LT(test::max_abs_diff(cached_logits(lm, ids, 5, {}), full), 1e-11) << "variant " << variant;
  }
}

TEST(LMDecoding, GenerateGivesTheSameTokensWithAndWithoutTheCache) {
  for (const char* mechanism : {"multi_head", "multi_head_latent"})
    for (const double temperature : {0.0, 1.0}) {
      Generator init(17);
      models::TransformerLM lm(small_lm(mechanism, 0), init, DType::f64);
      models::GenerateOptions o;
      o.new_tokens = 12;
      o.temperature = temperature;
      o.seed = 5;
      const models::Generated cached = models::generate(lm, {3, 1, 4}, o);
      o.use_cache = false;
      const models::Generated recomputed = models::generate(lm, {3, 1, 4}, o);
      ASSERT_EQ(cached.tokens.size(), 15u);
      EXPECT_EQ(cached.tokens, recomputed.tokens) << "temperature " << temperature;
      EXPECT_EQ(std::vector<int64_t>(cached.tokens.begin(), cached.tokens.begin() + 3), (std::vector<int64_t>{3, 1, 4}));
      EXPECT_GT(cached.cache_elements_per_token, 0);
      EXPECT_EQ(recomputed.cache_elements_per_token, 0);
    }
}

TEST(LMDecoding, ErrorsNameTheProblem) {
  Generator init(19);
  models::TransformerLM span_lm(small_lm("adaptive", 0), init);
  test::expect_error([&] { span_lm.start_decoding(); }, {"[transformer_lm]", "block 0", "no cached decoding"});
  models::TransformerLM lm(small_lm("multi_head", 0), init);
  models::LMDecodeState state = lm.start_decoding();
  lm.train(true);
  test::expect_error([&] { lm.forward_cached(random_ids(1, 2, 11, 1), state); }, {"[transformer_lm]", "evaluation mode"});
  test::expect_error([&] { models::generate(lm, {}, {}); }, {"[generate]", "empty"});
  test::expect_error([&] { models::generate(lm, {11}, {}); }, {"[generate]", "outside the vocabulary"});
}

}  // namespace
}  // namespace attnscale

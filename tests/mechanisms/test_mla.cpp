// Multi-head latent attention (2405.04434): gradchecks, the absorbed-weight path equals the plain
// path, cached decoding (latent + rope key only) equals the full forward, the KV-cache report.
#include <gtest/gtest.h>

#include "framework/attention/kv_cache_report.h"
#include "framework/attention/mla.h"
#include "framework/attention/multi_head.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

attention::MultiHeadLatentOptions small_options(int64_t q_lora_rank) {
  attention::MultiHeadLatentOptions o;
  o.d_model = 8;
  o.n_heads = 2;
  o.q_lora_rank = q_lora_rank;
  o.kv_lora_rank = 4;
  o.qk_nope_head_dim = 2;
  o.qk_rope_head_dim = 2;
  o.v_head_dim = 3;
  o.mask.causal = true;
  return o;
}

TEST(MultiHeadLatent, Gradcheck) {
  for (const int64_t q_lora_rank : {0, 4}) {
    Generator gen(1);
    attention::MultiHeadLatentAttention mla(small_options(q_lora_rank), gen, DType::f64);
    const Tensor pos = Tensor::arange(4);
    test::expect_module_gradcheck(mla, {input({1, 4, 8}, 2)},
                                  [&](const std::vector<Tensor>& in) { return mla.forward(in[0], pos); });
  }
}

TEST(MultiHeadLatent, AbsorbedPathEqualsPlainPath) {
  for (const bool fused : {true, false})
    for (const auto normalizer : {kernels::Normalizer::softmax, kernels::Normalizer::sparsemax}) {
      attention::MultiHeadLatentOptions o = small_options(4);
      o.d_model = 16, o.n_heads = 4, o.kv_lora_rank = 6, o.qk_nope_head_dim = 4, o.qk_rope_head_dim = 4;
      o.fused = fused, o.normalizer = normalizer;
      Generator gen(3);
      attention::MultiHeadLatentAttention mla(o, gen, DType::f64);
      const Tensor x = input({2, 7, 16}, 4).detach(), pos = Tensor::arange(7);
      EXPECT_LT(max_abs_diff(mla.forward(x, pos), mla.forward_absorbed(x, pos)), 1e-12)
          << "fused " << fused << " sparsemax " << (normalizer == kernels::Normalizer::sparsemax);
    }
}

TEST(MultiHeadLatent, CachedDecodingCachesOnlyTheLatentAndEqualsTheFullForward) {
  Generator gen(5);
  attention::MultiHeadLatentAttention mla(small_options(4), gen, DType::f64);
  const Tensor x = input({2, 6, 8}, 6).detach();
  const Tensor full = mla.forward(x, Tensor::arange(6));
  for (const auto path : {attention::LatentPath::plain, attention::LatentPath::absorbed}) {
    const auto made = mla.make_cache({path});
    auto& cache = dynamic_cast<attention::LatentKvCache&>(*made);
    std::vector<Tensor> outs{mla.forward_cached(narrow(x, 1, 0, 3), Tensor::arange(3), cache)};  // prefill
    for (int64_t t = 3; t < 6; ++t)
      outs.push_back(mla.forward_cached(narrow(x, 1, t, 1), Tensor::from(std::vector<int64_t>{t}, {1}), cache));
    EXPECT_LT(max_abs_diff(concat(outs, 1), full), 1e-12);
    EXPECT_EQ(shape_str(cache.latent.shape()), "[2, 6, 4]");
    EXPECT_EQ(shape_str(cache.rope_key.shape()), "[2, 6, 2]");
    EXPECT_EQ(cache.elements_per_token(), 4 + 2);
  }
  const auto cache = mla.make_cache({attention::LatentPath::plain});
  test::expect_error([&] { mla.forward_cached(narrow(x, 1, 0, 1), Tensor::from(std::vector<int64_t>{2}, {1}), *cache); },
                     {"[multi_head_latent]", "position 0"});
  attention::KvCache foreign;
  test::expect_error([&] { mla.forward_cached(narrow(x, 1, 0, 1), Tensor::arange(1), foreign); },
                     {"[multi_head_latent]", "make_cache"});
}

TEST(MultiHeadLatent, KvCacheReport) {
  attention::MultiHeadLatentOptions o;  // 4 heads, key 32 + 16, value 32, latent 64
  const auto rows = attention::kv_cache_rows(o);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].scheme, "MHA");
  EXPECT_EQ(rows[0].elements_per_token, 4 * (32 + 16 + 32));
  EXPECT_EQ(rows[1].scheme, "GQA-2");
  EXPECT_EQ(rows[1].elements_per_token, 2 * 80);
  EXPECT_EQ(rows[2].scheme, "MQA");
  EXPECT_EQ(rows[2].elements_per_token, 80);
  EXPECT_EQ(rows[3].scheme, "MLA");
  EXPECT_EQ(rows[3].elements_per_token, 64 + 16);
  // DeepSeek-V2's shape: 128 heads of 128, d_c = 4 d_h, d_h^R = d_h / 2: 576 values per token,
  // like GQA with 2.25 groups of 2 * 128 (the paper's Table 1).
  o.n_heads = 128, o.qk_nope_head_dim = 128, o.qk_rope_head_dim = 64, o.v_head_dim = 128, o.kv_lora_rank = 512;
  EXPECT_EQ(attention::kv_cache_rows(o).back().elements_per_token, 576);
  const std::string text = attention::kv_cache_report(o, 60);
  EXPECT_NE(text.find("MLA         576 elements/layer     34560 total"), std::string::npos) << text;
}

TEST(MultiHeadLatent, BadOptionsNameTheOption) {
  Generator gen(7);
  auto o = small_options(0);
  o.qk_rope_head_dim = 3;
  test::expect_error([&] { attention::MultiHeadLatentAttention(o, gen); }, {"[multi_head_latent]", "qk_rope_head_dim"});
  o = small_options(0);
  o.kv_lora_rank = 0;
  test::expect_error([&] { attention::MultiHeadLatentAttention(o, gen); }, {"[multi_head_latent]", "kv_lora_rank"});
  attention::MultiHeadLatentAttention mla(small_options(0), gen);
  test::expect_error([&] { mla.forward(Tensor::zeros({1, 3, 5}), Tensor::arange(3)); }, {"[multi_head_latent]", "[B, N, 8]"});
}

}  // namespace
}  // namespace attnscale

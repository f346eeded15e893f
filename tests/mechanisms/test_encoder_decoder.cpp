// The Transformer encoder-decoder (cross-attention) and its synthetic translation task; the
// synthetic captions: gradcheck, padding and causality invariances, greedy decoding, data by hand.
#include <gtest/gtest.h>

#include <algorithm>

#include "framework/data/captions.h"
#include "framework/data/synthetic.h"
#include "framework/data/translation.h"
#include "framework/models/encoder_decoder.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::max_abs_diff;

models::EncoderDecoderOptions tiny() {
  models::EncoderDecoderOptions o;
  o.vocab_size = 6, o.d_model = 4, o.n_heads = 2, o.d_ff = 6, o.encoder_layers = 1, o.decoder_layers = 1;
  return o;
}

TEST(EncoderDecoder, Gradcheck) {
  Generator gen(1), unused(0);
  models::EncoderDecoderTransformer model(tiny(), gen, DType::f64);
  const Tensor source = Tensor::from(std::vector<int64_t>{3, 4, 5, 3, 0, 0}, {2, 3});
  const std::vector<int32_t> valid{1, 1, 1, 1, 0, 0};
  const Tensor target = Tensor::from(std::vector<int64_t>{1, 4, 1, 5}, {2, 2});
  test::expect_module_gradcheck(model, {}, [&](const std::vector<Tensor>&) {
    return model.forward(source, valid, target, unused);
  });
}

TEST(EncoderDecoder, PaddingIsNeverReadAndTheDecoderIsCausal) {
  Generator gen(2), unused(0);
  auto o = tiny();
  o.d_model = 8;
  models::EncoderDecoderTransformer model(o, gen, DType::f64);
  const std::vector<int32_t> valid{1, 1, 0, 0};
  const Tensor target = Tensor::from(std::vector<int64_t>{1, 4, 5}, {1, 3});
  const Tensor a = model.forward(Tensor::from(std::vector<int64_t>{3, 4, 0, 0}, {1, 4}), valid, target, unused);
  const Tensor b = model.forward(Tensor::from(std::vector<int64_t>{3, 4, 5, 2}, {1, 4}), valid, target, unused);
  EXPECT_LT(max_abs_diff(a, b), 1e-14);
  // Changing the last target token leaves the earlier positions' logits unchanged.
  const Tensor source = Tensor::from(std::vector<int64_t>{3, 4, 0, 0}, {1, 4});
  const Tensor changed = model.forward(source, valid, Tensor::from(std::vector<int64_t>{1, 4, 3}, {1, 3}), unused);
  EXPECT_LT(max_abs_diff(narrow(a, 1, 0, 2), narrow(changed, 1, 0, 2)), 1e-14);
  EXPECT_GT(max_abs_diff(narrow(a, 1, 2, 1), narrow(changed, 1, 2, 1)), 1e-6);
}

TEST(EncoderDecoder, GreedyDecodingFeedsBackItsArgmax) {
  Generator gen(3), unused(0);
  models::EncoderDecoderTransformer model(tiny(), gen, DType::f64);
  model.eval();
  const Tensor source = Tensor::from(std::vector<int64_t>{3, 4, 5}, {1, 3});
  const auto ids = model.greedy(source, {}, 1, 4).to_vector<int64_t>();
  const Tensor fed = Tensor::from(std::vector<int64_t>{1, ids[0], ids[1], ids[2]}, {1, 4});
  EXPECT_EQ(argmax(model.forward(source, {}, fed, unused), -1).to_vector<int64_t>(), ids);
}

TEST(EncoderDecoder, SinusoidalPositions) {
  const auto pe = models::sinusoidal_positions(3, 4, DType::f64).to_vector<double>();
  // Position 2, pair 1: angle 2 / 10000^(2/4) = 0.02.
  EXPECT_NEAR(pe[2 * 4 + 2], std::sin(0.02), 1e-15);
  EXPECT_NEAR(pe[2 * 4 + 3], std::cos(0.02), 1e-15);
  EXPECT_NEAR(pe[1 * 4 + 0], std::sin(1.0), 1e-15);
}

TEST(TranslationData, ReversedDictionaryTranslationWithPadding) {
  using T = data::TranslationTokens;
  data::TranslationTask task({true, 2, 5, 8, 10, 42});
  const auto& dict = task.dictionary();
  std::vector<int64_t> sorted = dict;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], T::first_word + static_cast<int64_t>(i));
  const data::TranslationBatch batch = task.batch(3);
  const auto src = batch.source.to_vector<int64_t>(), tin = batch.target_inputs.to_vector<int64_t>();
  const auto tgt = batch.targets.to_vector<int64_t>();
  for (int64_t row = 0; row < 8; ++row) {
    int64_t len = 0;
    while (len < 5 && batch.source_valid[row * 5 + len]) ++len;
    ASSERT_GE(len, 2);
    for (int64_t i = len; i < 5; ++i) EXPECT_EQ(src[row * 5 + i], T::pad);
    EXPECT_EQ(tin[row * 6], T::bos);
    for (int64_t i = 0; i < len; ++i) {
      EXPECT_EQ(tgt[row * 6 + i], dict[src[row * 5 + len - 1 - i] - T::first_word]);
      EXPECT_EQ(tin[row * 6 + i + 1], tgt[row * 6 + i]);
    }
    EXPECT_EQ(tgt[row * 6 + len], T::eos);
    for (int64_t i = len + 1; i < 6; ++i) EXPECT_EQ(tgt[row * 6 + i], data::kIgnoreIndex);
  }
  EXPECT_EQ(max_abs_diff(task.batch(3).source.to(DType::f64), batch.source.to(DType::f64)), 0.0);
  test::expect_error([] { data::TranslationTask({true, 6, 5, 8, 10, 1}); }, {"[data]", "min_len"});
}

TEST(CaptionData, CaptionNamesTheMostSalientObjectsInOrder) {
  using T = data::CaptionTokens;
  data::CaptionTask task({4, 5, 2, 0.0, 3, 7});  // no noise: features are exact one-hots
  const data::CaptionBatch batch = task.batch(0);
  const auto f = batch.features.to_vector<float>();
  const auto tgt = batch.targets.to_vector<int64_t>(), in = batch.inputs.to_vector<int64_t>();
  for (int64_t row = 0; row < 3; ++row) {
    std::vector<int64_t> class_of_rank(4);
    for (int64_t region = 0; region < 4; ++region) {
      const float* a = f.data() + (row * 4 + region) * 9;
      const int64_t cls = std::max_element(a, a + 5) - a, rank = std::max_element(a + 5, a + 9) - (a + 5);
      class_of_rank[rank] = cls;
    }
    const std::vector<int64_t> expected{T::the, T::first_class + class_of_rank[0], T::and_,
                                        T::the, T::first_class + class_of_rank[1], T::eos};
    EXPECT_EQ(std::vector<int64_t>(tgt.begin() + row * 6, tgt.begin() + row * 6 + 6), expected);
    EXPECT_EQ(in[row * 6], T::bos);
    for (int64_t i = 1; i < 6; ++i) EXPECT_EQ(in[row * 6 + i], tgt[row * 6 + i - 1]);
  }
  test::expect_error([] { data::CaptionTask({4, 5, 5, 0.0, 3, 7}); }, {"[data]", "objects"});
}

}  // namespace
}  // namespace attnscale

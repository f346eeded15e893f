// HAN's transformer sentence encoder (han.sentence_encoder = transformer) on one rank: an fp64
// gradcheck of the encoder (inputs and parameters, with padded documents; the whole model's is in
// test_han_model.cpp), padding slots that change nothing, its config keys, and a short training run
// on the synthetic task. The cp > 1 path is checked against one rank in tests/mpi/test_han_distributed.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "framework/core/autograd/gradcheck.h"
#include "framework/config/config.h"
#include "framework/data/doc_batches.h"
#include "framework/data/doc_synthetic.h"
#include "framework/models/han.h"
#include "framework/models/han_sentence_transformer.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "framework/train/han_task.h"
#include "framework/train/trainer.h"
#include "tests/han/han_fixtures.h"

namespace attnscale {
namespace {

TEST(SentenceTransformer, GradcheckInputsAndParametersWithPaddingInFp64) {
  Generator gen(3);
  const models::SentenceTransformer encoder({4, 2, 2}, gen, DType::f64);
  const Tensor x = Tensor::randn({3, 4, 4}, gen, DType::f64).set_requires_grad();
  // Documents of 4, 1 and 2 sentences in 4 slots.
  const Tensor mask = Tensor::from(std::vector<double>{1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0}, {3, 4});
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : encoder.parameters()) inputs.push_back(p);
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        // Only sentence slots count, as in HAN where the pooling ignores padding rows.
        return mul(encoder.forward(in[0], mask), unsqueeze(mask, 2));
      },
      inputs);
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(SentenceTransformer, PaddingSlotsChangeNoSentence) {
  Generator gen(5);
  const models::SentenceTransformer encoder({6, 3, 1}, gen, DType::f64);
  const Tensor x = Tensor::randn({1, 2, 6}, gen, DType::f64);
  const Tensor alone = encoder.forward(x, Tensor::ones({1, 2}, DType::f64));
  // The same document in 5 slots, the 3 padding slots holding arbitrary vectors.
  const Tensor padded_x = concat({x, Tensor::randn({1, 3, 6}, gen, DType::f64)}, 1);
  const Tensor padded_mask = Tensor::from(std::vector<double>{1, 1, 0, 0, 0}, {1, 5});
  const Tensor padded = narrow(encoder.forward(padded_x, padded_mask), 1, 0, 2).contiguous();
  const auto a = alone.to_vector<double>(), b = padded.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-13) << i;
  EXPECT_THROW(models::SentenceTransformer({6, 4, 1}, gen, DType::f64), UsageError);  // 4 heads do not divide 6
}

TEST(HAN, TransformerEncodedDocumentDoesNotDependOnItsBatch) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  const auto docs = test::uneven_documents(c);  // docs[0] is the shortest: padded in the batch
  ASSERT_LT(c.num_sentences(docs[0]), c.num_sentences(docs[1]));
  Generator init(1), gen(2);
  const models::HAN han(
      test::tiny_han_options(attention::PoolingKind::attention, models::SentenceEncoderKind::transformer), init,
      DType::f64);
  const auto alone =
      han.forward(data::make_doc_batch(c, std::vector<int64_t>{docs[0]}, {}, 0, 1, 0, 1, DType::f64), gen, gen)
          .to_vector<double>();
  const auto batched = han.forward(data::make_doc_batch(c, docs, {}, 0, 1, 0, 1, DType::f64), gen, gen)
                           .to_vector<double>();
  for (size_t i = 0; i < alone.size(); ++i) EXPECT_NEAR(alone[i], batched[i], 1e-13) << i;
}

TEST(HanTask, TransformerSentenceEncoderConfig) {
  Config cfg;
  cfg.model.type = config::ModelType::han;
  cfg.model.d_model = 5;  // sentence vectors of 10
  cfg.data.vocab_size = 20;
  cfg.han.train_docs = 16;
  cfg.han.eval_docs = 4;
  cfg.han.sentence_encoder = config::SentenceEncoder::transformer;
  cfg.han.sentence_heads = 5;
  cfg.han.sentence_layers = 2;
  cfg.parallel.cp = 2;  // the transformer encoder runs over a cp group
  const data::DocCorpus c = train::load_han_corpus(cfg);
  const models::HANOptions o = train::han_options(cfg, c);
  EXPECT_EQ(o.sentence_encoder, models::SentenceEncoderKind::transformer);
  EXPECT_EQ(o.sentence_heads, 5);
  EXPECT_EQ(o.sentence_layers, 2);
  cfg.han.sentence_heads = 4;
  try {
    train::han_options(cfg, c);
    ADD_FAILURE() << "4 heads over sentence vectors of 10 were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("han.sentence_heads"), std::string::npos) << e.what();
  }
  cfg.han.sentence_heads = 2;
  cfg.han.sentence_encoder = config::SentenceEncoder::gru;
  EXPECT_THROW(train::han_options(cfg, c), ConfigError);  // the GRU is still refused with cp > 1
  const std::vector<std::string> no_layers{"han.sentence_layers=0"};
  EXPECT_THROW(load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs/mechanisms/hierarchical.yaml",
                           no_layers),
               ConfigError);
}

// The synthetic task (label = the class word of the trigger sentence) with the transformer
// sentence encoder, in a test-sized run of configs/mechanisms/hierarchical.yaml.
TEST(HierarchicalConfig, TransformerSentenceEncoderLearnsTheSyntheticTask) {
  const std::vector<std::string> overrides{"train.steps=100",       "han.train_docs=1600",
                                           "han.eval_docs=128",     "train.eval_batches=4",
                                           "logging.progress=off",  "logging.metrics=false",
                                           "han.sentence_encoder=transformer", "han.sentence_heads=2"};
  const Config cfg =
      load_config(std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "configs/mechanisms/hierarchical.yaml", overrides);
  train::HanTask task(cfg);
  const train::TrainSummary summary = train::Trainer(cfg, task, nullptr, 0).run();
  EXPECT_LT(summary.last_loss, 0.5 * summary.first_loss);
  EXPECT_GE(summary.final_eval.accuracy, 0.9) << "eval loss " << summary.final_eval.loss;
}

}  // namespace
}  // namespace attnscale

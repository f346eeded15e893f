// The HAN model and its data: the synthetic task's label rule, length-bucketed batches (every
// document once per epoch, deterministic), dp/cp shards that together hold the batch, data-parallel
// loss shares adding up to the 1-rank loss, an fp64 gradcheck of the whole model, and the config
// rules that reject options the distributed mode cannot run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "framework/core/autograd/gradcheck.h"
#include "framework/config/config.h"
#include "framework/data/doc_batches.h"
#include "framework/data/doc_synthetic.h"
#include "framework/models/han.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/train/han_task.h"
#include "tests/han/han_fixtures.h"

namespace attnscale {
namespace {

TEST(SyntheticDocs, LabelIsTheClassOfTheTriggerSentence) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  EXPECT_EQ(c.num_documents(), 56);
  EXPECT_EQ(c.split(data::Split::train).size(), 40u);
  EXPECT_EQ(c.split(data::Split::test).size(), 8u);
  for (int64_t d = 0; d < c.num_documents(); ++d) {
    int triggers = 0;
    for (int64_t s = c.document_offsets[d]; s < c.document_offsets[d + 1]; ++s) {
      const auto words = c.sentence(s);
      int classes = 0;
      int64_t cls = -1;
      for (const int64_t w : words)
        if (w >= data::kFirstClassWord && w < data::kFirstClassWord + 3) ++classes, cls = w - data::kFirstClassWord;
      EXPECT_EQ(classes, 1);
      if (std::count(words.begin(), words.end(), data::kTriggerWord) == 1) {
        ++triggers;
        EXPECT_EQ(cls, c.labels[d]);
      }
    }
    EXPECT_EQ(triggers, 1) << "document " << d;
  }
  EXPECT_EQ(data::make_synthetic_documents(test::small_doc_spec()).tokens, c.tokens);
  auto bad = test::small_doc_spec();
  bad.vocab_size = 8;
  EXPECT_THROW(data::make_synthetic_documents(bad), UsageError);
}

TEST(DocBatcher, EveryTrainingDocumentOncePerEpochInLengthBuckets) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  data::DocBatchSpec spec;
  spec.batch_size = 8;
  spec.bucket_batches = 5;  // the whole epoch is one window: sorted by length before cutting
  const data::DocBatcher batcher(c, data::Split::train, spec);
  ASSERT_EQ(batcher.batches_per_epoch(), 5);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::multiset<int64_t> seen;
    std::vector<std::pair<int64_t, int64_t>> ranges;  // (min, max) sentences per batch
    for (int64_t i = 0; i < 5; ++i) {
      const auto docs = batcher.train_batch(epoch * 5 + i);
      ASSERT_EQ(docs.size(), 8u);
      seen.insert(docs.begin(), docs.end());
      int64_t lo = 100, hi = 0;
      for (const int64_t d : docs) lo = std::min(lo, c.num_sentences(d)), hi = std::max(hi, c.num_sentences(d));
      ranges.emplace_back(lo, hi);
    }
    EXPECT_EQ(seen.size(), 40u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 40u);
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 0; i + 1 < ranges.size(); ++i) EXPECT_LE(ranges[i].second, ranges[i + 1].first);  // buckets
  }
  EXPECT_EQ(batcher.train_batch(3), batcher.train_batch(3));
  EXPECT_NE(batcher.train_batch(0), batcher.train_batch(5));  // a new epoch reshuffles
  const data::DocBatcher eval(c, data::Split::validation, spec);
  EXPECT_EQ(eval.eval_batches_per_pass(), 1);
  EXPECT_EQ(eval.eval_batch(0), c.split(data::Split::validation));
}

TEST(DocBatch, DpAndCpShardsTogetherHoldTheBatch) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  data::DocBatchSpec spec;
  spec.max_words = 4;
  const std::vector<int64_t> docs{0, 1, 2, 3, 4, 5};
  const data::DocBatch whole = data::make_doc_batch(c, docs, spec, 0, 1, 0, 1, DType::f64);
  int64_t documents = 0, sentences = 0, tokens = 0;
  for (int dp = 0; dp < 2; ++dp)
    for (int cp = 0; cp < 3; ++cp) {
      const data::DocBatch part = data::make_doc_batch(c, docs, spec, dp, 2, cp, 3, DType::f64);
      // Every rank of the cp group pads to the same S: the largest piece of the longest document.
      int64_t longest = 0;
      for (int64_t i = 3 * dp; i < 3 * dp + 3; ++i) longest = std::max(longest, c.num_sentences(docs[i]));
      EXPECT_EQ(part.max_sentences, (longest + 2) / 3) << "dp " << dp << " cp " << cp;
      if (cp == 0) documents += part.documents;
      sentences += part.sentences;
      tokens += part.tokens;
      EXPECT_EQ(sum(part.sentence_mask).item(), static_cast<double>(part.sentences));
    }
  EXPECT_EQ(documents, 6);
  EXPECT_EQ(sentences, whole.sentences);
  EXPECT_EQ(tokens, whole.tokens);
  EXPECT_LE(whole.words.shape()[1], 4);  // max_words truncates
  EXPECT_EQ(sum(whole.word_mask).item(), static_cast<double>(whole.tokens));
}

TEST(HAN, GradcheckWholeModelInFp64) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  const data::DocBatch batch = data::make_doc_batch(c, test::uneven_documents(c), {}, 0, 1, 0, 1, DType::f64);
  using models::SentenceEncoderKind;
  const std::pair<attention::PoolingKind, SentenceEncoderKind> variants[] = {
      {attention::PoolingKind::attention, SentenceEncoderKind::gru},
      {attention::PoolingKind::max, SentenceEncoderKind::gru},
      {attention::PoolingKind::attention, SentenceEncoderKind::transformer},
      {attention::PoolingKind::average, SentenceEncoderKind::transformer}};
  for (const auto& [pooling, encoder] : variants) {
    Generator init(1);
    const models::HAN han(test::tiny_han_options(pooling, encoder), init, DType::f64);
    Generator gen(2);
    const auto result = autograd::gradcheck(
        [&](const std::vector<Tensor>&) { return han.forward(train::han_input(batch), gen, gen); }, han.parameters());
    EXPECT_TRUE(result.ok) << "pooling " << static_cast<int>(pooling) << ", sentence encoder "
                           << static_cast<int>(encoder) << ": " << result.report;
  }
}

TEST(HAN, DataParallelLossSharesAddUpToTheWholeBatch) {
  const data::DocCorpus c = data::make_synthetic_documents(test::small_doc_spec());
  Generator init(1), gen(2);
  const models::HAN han(
      test::tiny_han_options(attention::PoolingKind::attention, models::SentenceEncoderKind::gru), init, DType::f64);
  const std::vector<int64_t> docs{4, 9, 13, 20, 21};
  const auto loss_of = [&](int dp_rank, int dp_size) {
    const data::DocBatch b = data::make_doc_batch(c, docs, {}, dp_rank, dp_size, 0, 1, DType::f64);
    return cross_entropy(han.forward(train::han_input(b), gen, gen), b.labels, -100, Reduction::sum).item() / 5.0;
  };
  EXPECT_NEAR(loss_of(0, 2) + loss_of(1, 2), loss_of(0, 1), 1e-12);
}

TEST(HanTask, ConfigRulesForTheDistributedMode) {
  Config cfg;
  cfg.model.type = config::ModelType::han;
  cfg.data.vocab_size = 20;
  cfg.han.train_docs = 16;
  cfg.han.eval_docs = 4;
  cfg.parallel.cp = 2;
  const data::DocCorpus c = train::load_han_corpus(cfg);
  EXPECT_THROW(train::han_options(cfg, c), ConfigError);  // gru sentence encoder
  cfg.han.sentence_encoder = config::SentenceEncoder::none;
  EXPECT_NO_THROW(train::han_options(cfg, c));
  cfg.run.device = config::RunDevice::cuda;  // the merge across the cp ranks is host code
  EXPECT_THROW(train::han_options(cfg, c), ConfigError);
  cfg.run.device = config::RunDevice::cpu;
  cfg.han.pooling = config::HanPooling::max;
  EXPECT_THROW(train::han_options(cfg, c), ConfigError);
  cfg.data.vocab_size = 5;
  EXPECT_THROW(train::load_han_corpus(cfg), ConfigError);
}

}  // namespace
}  // namespace attnscale

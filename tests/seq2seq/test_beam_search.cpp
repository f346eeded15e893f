// Greedy and beam search (models/beam_search.h) on the two encoder-decoder models: beam 1 is the
// model's own greedy decoding token for token; a beam wide enough to prune nothing finds exactly the
// best output of an exhaustive search over every output of up to max_len tokens, scored by teacher
// forcing; every hypothesis's log-probability is the teacher-forced one of its tokens. The models are
// trained for a few steps first, so that their best outputs are words, not an immediate eos.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "framework/models/beam_search.h"
#include "framework/train/encoder_decoder_task.h"
#include "framework/train/make_task.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/trainer.h"
#include "tests/test_util/tiny_translation.h"

namespace attnscale {
namespace {

constexpr int64_t kBos = 1, kEos = 2, kVocab = 5;  // tokens 0 (pad), 1 (bos), 3 and 4 besides eos

// A toy decoder: the log-probabilities of the next token are a fixed pseudo-random function of the
// sentence and the prefix, so that the search can be checked without a model.
class TableDecoder : public models::StepDecoder {
 public:
  explicit TableDecoder(int64_t sentences) {
    for (int64_t s = 0; s < sentences; ++s) rows_.push_back({s, {}});
  }
  static std::vector<double> log_probs(int64_t sentence, const std::vector<int64_t>& prefix) {
    uint64_t h = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(sentence + 1);
    for (const int64_t t : prefix) h = (h ^ static_cast<uint64_t>(t + 7)) * 0xBF58476D1CE4E5B9ull;
    std::vector<double> logits(kVocab);
    for (int64_t v = 0; v < kVocab; ++v) {
      h = (h ^ (h >> 31)) * 0x94D049BB133111EBull + static_cast<uint64_t>(v);
      logits[v] = static_cast<double>(h >> 40) / static_cast<double>(1ull << 24) * 4.0;
    }
    return models::log_softmax_rows(logits, kVocab);
  }
  std::vector<double> next_log_probs(std::span<const int64_t> previous) override {
    std::vector<double> out;
    for (size_t r = 0; r < rows_.size(); ++r) {
      if (step_ > 0) rows_[r].prefix.push_back(previous[r]);  // the first step's is bos
      const auto lp = log_probs(rows_[r].sentence, rows_[r].prefix);
      out.insert(out.end(), lp.begin(), lp.end());
    }
    ++step_;
    return out;
  }
  void keep(std::span<const int64_t> rows) override {
    std::vector<Row> kept;
    for (const int64_t r : rows) kept.push_back(rows_[r]);
    rows_ = std::move(kept);
  }

 private:
  struct Row {
    int64_t sentence;
    std::vector<int64_t> prefix;
  };
  std::vector<Row> rows_;
  int64_t step_ = 0;
};

// Every output of up to max_len tokens: ended with eos, or max_len tokens without it.
std::vector<models::Hypothesis> every_output(int64_t max_len) {
  std::vector<models::Hypothesis> out;
  std::function<void(std::vector<int64_t>&)> grow = [&](std::vector<int64_t>& prefix) {
    if (static_cast<int64_t>(prefix.size()) == max_len) {
      out.push_back({prefix, 0, false});
      return;
    }
    out.push_back({prefix, 0, true});  // eos next
    for (int64_t v = 0; v < kVocab; ++v) {
      if (v == kEos) continue;
      prefix.push_back(v);
      grow(prefix);
      prefix.pop_back();
    }
  };
  std::vector<int64_t> prefix;
  grow(prefix);
  return out;
}

// The highest-scoring output by `score` (log-probability by teacher forcing).
models::Hypothesis exhaustive_best(int64_t max_len, const std::function<double(const models::Hypothesis&)>& score) {
  models::Hypothesis best;
  best.log_prob = -INFINITY;
  for (models::Hypothesis h : every_output(max_len)) {
    h.log_prob = score(h);
    if (h.log_prob > best.log_prob) best = h;
  }
  return best;
}

// A beam no step can prune: at least kVocab^max_len.
int64_t unpruned_beam(int64_t max_len) { return static_cast<int64_t>(std::pow(kVocab, max_len)); }

TEST(BeamSearch, WideBeamIsExhaustiveOnATable) {
  constexpr int64_t sentences = 3, max_len = 4;
  TableDecoder decoder(sentences);
  const auto found = models::beam_search(decoder, sentences, {unpruned_beam(max_len), max_len, 0, kBos, kEos});
  for (int64_t s = 0; s < sentences; ++s) {
    const models::Hypothesis best = exhaustive_best(max_len, [&](const models::Hypothesis& h) {
      double lp = 0;
      std::vector<int64_t> prefix;
      for (const int64_t t : h.tokens) lp += TableDecoder::log_probs(s, prefix)[t], prefix.push_back(t);
      if (h.ended) lp += TableDecoder::log_probs(s, prefix)[kEos];
      return lp;
    });
    EXPECT_EQ(found[s].tokens, best.tokens) << "sentence " << s;
    EXPECT_EQ(found[s].ended, best.ended) << "sentence " << s;
    EXPECT_NEAR(found[s].log_prob, best.log_prob, 1e-12) << "sentence " << s;
  }
}

TEST(BeamSearch, BeamOneIsArgmaxAtEveryStep) {
  TableDecoder decoder(4);
  const auto found = models::beam_search(decoder, 4, {1, 6, 0, kBos, kEos});
  for (int64_t s = 0; s < 4; ++s) {
    std::vector<int64_t> prefix;
    bool ended = false;
    while (static_cast<int64_t>(prefix.size()) < 6) {
      const auto lp = TableDecoder::log_probs(s, prefix);
      const int64_t next = std::max_element(lp.begin(), lp.end()) - lp.begin();
      if (next == kEos) {
        ended = true;
        break;
      }
      prefix.push_back(next);
    }
    EXPECT_EQ(found[s].tokens, prefix) << "sentence " << s;
    EXPECT_EQ(found[s].ended, ended) << "sentence " << s;
  }
}

TEST(BeamSearch, LengthPenaltyRanksByLogProbPerLengthPower) {
  // With alpha = 1 the answer is the finished hypothesis of best mean log-probability per token.
  constexpr int64_t max_len = 3;
  TableDecoder decoder(1);
  const auto found = models::beam_search(decoder, 1, {unpruned_beam(max_len), max_len, 1.0, kBos, kEos});
  double best = -INFINITY;
  for (const models::Hypothesis& h : every_output(max_len)) {
    double lp = 0;
    std::vector<int64_t> prefix;
    for (const int64_t t : h.tokens) lp += TableDecoder::log_probs(0, prefix)[t], prefix.push_back(t);
    if (h.ended) lp += TableDecoder::log_probs(0, prefix)[kEos];
    best = std::max(best, lp / static_cast<double>(h.tokens.size() + (h.ended ? 1 : 0)));
  }
  const double length = static_cast<double>(found[0].tokens.size() + (found[0].ended ? 1 : 0));
  EXPECT_NEAR(found[0].log_prob / length, best, 1e-12);
}

TEST(BeamSearch, RefusesAnEmptyBeam) {
  TableDecoder decoder(1);
  EXPECT_THROW(models::beam_search(decoder, 1, {0, 3, 0, kBos, kEos}), UsageError);
  EXPECT_THROW(models::beam_search(decoder, 1, {1, 0, 0, kBos, kEos}), UsageError);
}

// ---- the models -------------------------------------------------------------------------------

// Sum of log-softmax(logits)[target] over each row's first `lengths[r]` positions: logits [B, T, V].
std::vector<double> teacher_forced_log_probs(const Tensor& logits, const std::vector<std::vector<int64_t>>& targets) {
  const int64_t b = logits.shape()[0], t = logits.shape()[1], v = logits.shape()[2];
  const auto lp = models::log_softmax_rows(logits.to(DType::f64).to_vector<double>(), v);
  std::vector<double> out(static_cast<size_t>(b));
  for (int64_t r = 0; r < b; ++r)
    for (size_t i = 0; i < targets[r].size(); ++i) out[r] += lp[(r * t + static_cast<int64_t>(i)) * v + targets[r][i]];
  return out;
}

// Teacher-forced inputs (bos, tokens) and targets (tokens, eos when ended) of hypotheses, padded.
struct Forced {
  Tensor inputs;
  std::vector<std::vector<int64_t>> targets;
};
Forced forced(const std::vector<models::Hypothesis>& hypotheses, int64_t width) {
  std::vector<int64_t> inputs;
  Forced f;
  for (const models::Hypothesis& h : hypotheses) {
    std::vector<int64_t> row{kBos};
    row.insert(row.end(), h.tokens.begin(), h.tokens.end());
    row.resize(static_cast<size_t>(width), 0);
    inputs.insert(inputs.end(), row.begin(), row.end());
    f.targets.push_back(h.tokens);
    if (h.ended) f.targets.back().push_back(kEos);
  }
  f.inputs = Tensor::from(inputs, {static_cast<int64_t>(hypotheses.size()), width});
  return f;
}

// A model under test: its greedy decoding, a StepDecoder over one batch, and teacher-forced logits
// of sentence `s` (its source repeated) for target inputs [N, T].
struct ModelUnderTest {
  std::function<Tensor(int64_t steps)> greedy;
  std::function<std::unique_ptr<models::StepDecoder>()> start;
  std::function<Tensor(int64_t s, const Tensor& inputs)> logits;
  int64_t sentences = 0;
};

Config tiny(config::ModelType type) {
  Config cfg = test::tiny_translation_config(type, kVocab, 6, 5);
  cfg.optim.lr = 0.02, cfg.optim.warmup_steps = 1;
  cfg.train.steps = 60;  // trained a little, so that the best outputs are not just eos
  cfg.train.eval_batches = 1;
  validate(cfg);
  return cfg;
}

// The whole check over one model: beam 1 = greedy; an unpruned beam = the exhaustive best; a beam of
// 3's answers are scored right.
void check_model(const ModelUnderTest& m) {
  constexpr int64_t max_len = 4;
  autograd::NoGradGuard no_grad;
  // Beam 1 against the model's greedy decoding, cut after its first eos.
  const auto greedy = m.greedy(max_len).to_vector<int64_t>();
  auto decoder = m.start();
  const auto beam1 = models::beam_search(*decoder, m.sentences, {1, max_len, 0, kBos, kEos});
  for (int64_t s = 0; s < m.sentences; ++s) {
    std::vector<int64_t> expected;
    bool saw_eos = false;
    for (int64_t t = 0; t < max_len && !saw_eos; ++t) {
      const int64_t token = greedy[s * max_len + t];
      saw_eos = token == kEos;
      if (!saw_eos) expected.push_back(token);
    }
    EXPECT_EQ(beam1[s].tokens, expected) << "sentence " << s;
    EXPECT_EQ(beam1[s].ended, saw_eos) << "sentence " << s;
  }
  // Exhaustive search, every output of sentence s scored by teacher forcing in one batch.
  decoder = m.start();
  const auto wide = models::beam_search(*decoder, m.sentences, {unpruned_beam(max_len), max_len, 0, kBos, kEos});
  decoder = m.start();
  const auto beam3 = models::beam_search(*decoder, m.sentences, {3, max_len, 0, kBos, kEos});
  // Trained enough that the search had to look past the first step somewhere.
  EXPECT_TRUE(std::any_of(wide.begin(), wide.end(), [](const models::Hypothesis& h) { return h.tokens.size() >= 2; }));
  const std::vector<models::Hypothesis> outputs = every_output(max_len);
  const Forced all = forced(outputs, max_len);
  for (int64_t s = 0; s < m.sentences; ++s) {
    const std::vector<double> scores = teacher_forced_log_probs(m.logits(s, all.inputs), all.targets);
    const size_t best = static_cast<size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
    EXPECT_EQ(wide[s].tokens, outputs[best].tokens) << "sentence " << s;
    EXPECT_EQ(wide[s].ended, outputs[best].ended) << "sentence " << s;
    EXPECT_NEAR(wide[s].log_prob, scores[best], 1e-4) << "sentence " << s;
    EXPECT_LE(beam3[s].log_prob, wide[s].log_prob + 1e-5) << "sentence " << s;
    for (const models::Hypothesis* h : {&beam1[s], &beam3[s]}) {
      const Forced one = forced({*h}, max_len);
      const auto scored = teacher_forced_log_probs(
          narrow(m.logits(s, one.inputs), 0, 0, 1), one.targets);
      EXPECT_NEAR(h->log_prob, scored[0], 1e-4) << "sentence " << s;
    }
  }
}

TEST(BeamSearch, Seq2SeqBeamOneIsGreedyAndAWideBeamIsExhaustive) {
  const Config cfg = tiny(config::ModelType::seq2seq);
  const auto trained = train::make_task(cfg);
  train::Trainer(cfg, *trained, nullptr, 0).run();
  const auto& model = dynamic_cast<const models::Seq2Seq&>(trained->model());
  trained->model().eval();
  const data::TransductionTask task(train::transduction_spec(cfg, 1));
  const data::TransductionBatch batch = task.batch(0);
  Generator gen(1);
  ModelUnderTest m;
  m.sentences = batch.source.shape()[0];
  m.greedy = [&](int64_t steps) { return model.greedy_decode(batch.source, batch.source_lengths, steps, gen); };
  m.start = [&] { return model.start_decoding(batch.source, batch.source_lengths, gen); };
  m.logits = [&](int64_t s, const Tensor& inputs) {
    const int64_t n = inputs.shape()[0];
    const Tensor rows = Tensor::full({n}, static_cast<double>(s), DType::i64);
    return model.forward(index_select(batch.source, 0, rows), index_select(batch.source_lengths, 0, rows), inputs, gen)
        .logits;
  };
  check_model(m);
}

TEST(BeamSearch, EncoderDecoderBeamOneIsGreedyAndAWideBeamIsExhaustive) {
  const Config cfg = tiny(config::ModelType::encoder_decoder);
  const auto trained = train::make_task(cfg);
  train::Trainer(cfg, *trained, nullptr, 0).run();
  const auto& model = dynamic_cast<const models::EncoderDecoderTransformer&>(trained->model());
  trained->model().eval();
  const data::TranslationTask task(train::translation_spec(cfg, 1));
  const data::TranslationBatch batch = task.batch(0);
  Generator gen(1);
  const int64_t width = batch.source.shape()[1];
  ModelUnderTest m;
  m.sentences = batch.source.shape()[0];
  m.greedy = [&](int64_t steps) { return model.greedy(batch.source, batch.source_valid, kBos, steps); };
  m.start = [&] { return model.start_decoding(batch.source, batch.source_valid); };
  m.logits = [&](int64_t s, const Tensor& inputs) {
    const int64_t n = inputs.shape()[0];
    std::vector<int32_t> valid;
    for (int64_t i = 0; i < n; ++i)
      valid.insert(valid.end(), batch.source_valid.begin() + s * width, batch.source_valid.begin() + (s + 1) * width);
    const Tensor rows = Tensor::full({n}, static_cast<double>(s), DType::i64);
    return model.forward(index_select(batch.source, 0, rows), valid, inputs, gen);
  };
  check_model(m);
}

}  // namespace
}  // namespace attnscale

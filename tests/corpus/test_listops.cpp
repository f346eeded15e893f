// `attnscale prepare listops`: every generated expression is parsed back from its words and evaluated
// by a separate evaluator written here (a stack machine over the text, not the generator's tree
// recursion), and its label, length, depth and argument counts are checked against the rules; the
// batches the classifier trains on score exactly each example's last token; bad options exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>

#include "framework/data/listops.h"
#include "framework/train/lm_task.h"
#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

using data::Split;

// What the evaluator found in one expression.
struct Evaluated {
  int64_t value = -1;
  int64_t depth = 0;                       // deepest digit, the root at depth 1
  int64_t fewest_args = 1 << 30, most_args = 0;
  std::map<std::string, int64_t> operators;  // operator word -> times used
};

// Evaluates the words of a prefix expression with an explicit stack of open operator frames.
Evaluated evaluate_words(const std::vector<std::string>& words) {
  struct Frame {
    std::string op;
    std::vector<int64_t> args;
  };
  std::vector<Frame> stack;
  Evaluated r;
  std::optional<int64_t> result;
  const auto deliver = [&](int64_t v) {
    if (stack.empty()) {
      EXPECT_FALSE(result.has_value()) << "two top-level values";
      result = v;
    } else {
      stack.back().args.push_back(v);
    }
  };
  for (const std::string& w : words) {
    if (w.size() == 1 && w[0] >= '0' && w[0] <= '9') {
      r.depth = std::max<int64_t>(r.depth, static_cast<int64_t>(stack.size()) + 1);
      deliver(w[0] - '0');
    } else if (w == "[MIN" || w == "[MAX" || w == "[MED" || w == "[SM") {
      ++r.operators[w];
      stack.push_back({w, {}});
    } else if (w == "]") {
      if (stack.empty()) {
        ADD_FAILURE() << "']' closes nothing";
        return r;
      }
      Frame f = std::move(stack.back());
      stack.pop_back();
      const auto n = static_cast<int64_t>(f.args.size());
      r.fewest_args = std::min(r.fewest_args, n);
      r.most_args = std::max(r.most_args, n);
      std::sort(f.args.begin(), f.args.end());
      int64_t v = 0;
      if (f.op == "[MIN") v = f.args.front();
      if (f.op == "[MAX") v = f.args.back();
      if (f.op == "[SM") v = std::accumulate(f.args.begin(), f.args.end(), int64_t{0}) % 10;
      if (f.op == "[MED") {  // numpy's median of integers, then int(): floor of the middle pair's mean
        const double m = n % 2 ? static_cast<double>(f.args[n / 2]) : 0.5 * static_cast<double>(f.args[n / 2 - 1] + f.args[n / 2]);
        v = static_cast<int64_t>(m);
      }
      deliver(v);
    } else {
      ADD_FAILURE() << "unknown word '" << w << "'";
      return r;
    }
  }
  EXPECT_TRUE(stack.empty()) << stack.size() << " operators left open";
  r.value = result.value_or(-1);
  return r;
}

std::vector<std::string> words_of(std::span<const int64_t> tokens) {
  std::vector<std::string> words;
  for (const int64_t t : tokens) words.push_back(data::listops_vocabulary().at(t));
  return words;
}

// Checks every example of every split against the evaluator and the rules; counts the labels.
void check_all(const data::ListOpsData& d, std::map<int64_t, int64_t>& labels) {
  const data::ListOpsOptions& o = d.options;
  std::map<std::string, int64_t> operators;
  for (int s = 0; s < 3; ++s) {
    const data::ListOpsSplit& split = d.splits[s];
    EXPECT_EQ(split.size(), o.sizes[s]);
    for (int64_t e = 0; e < split.size(); ++e) {
      const auto tokens = split.example(e);
      const Evaluated r = evaluate_words(words_of(tokens));
      const auto n = static_cast<int64_t>(tokens.size());
      ASSERT_EQ(r.value, split.labels[e]) << data::split_name(static_cast<Split>(s)) << " example " << e;
      ASSERT_GE(n, o.min_length);
      ASSERT_LE(n, o.max_length);
      ASSERT_LE(r.depth, o.max_depth);
      if (r.most_args > 0) {
        ASSERT_GE(r.fewest_args, 2);
        ASSERT_LE(r.most_args, o.max_args);
      }
      ++labels[r.value];
      for (const auto& [op, count] : r.operators) operators[op] += count;
    }
  }
  EXPECT_EQ(operators.size(), 4u) << "every operator should appear";
}
void check_all(const data::ListOpsData& d) {
  std::map<int64_t, int64_t> labels;
  check_all(d, labels);
}

TEST(ListOpsEvaluator, KnowsTheOperators) {  // the evaluator itself, on hand-worked expressions
  EXPECT_EQ(evaluate_words({"[MAX", "2", "9", "[MIN", "4", "7", "]", "0", "]"}).value, 9);
  EXPECT_EQ(evaluate_words({"[MED", "1", "8", "2", "9", "]"}).value, 5);  // (2 + 8) / 2
  EXPECT_EQ(evaluate_words({"[MED", "1", "2", "]"}).value, 1);            // 1.5 -> 1
  EXPECT_EQ(evaluate_words({"[SM", "9", "8", "[MIN", "7", "3", "]", "]"}).value, 0);  // 20 mod 10
  EXPECT_EQ(evaluate_words({"[MIN", "[MAX", "[SM", "5", "6", "]", "3", "]", "4", "]"}).value, 3);
  const Evaluated nested = evaluate_words({"[MIN", "[MAX", "[SM", "5", "6", "]", "3", "]", "4", "]"});
  EXPECT_EQ(nested.depth, 4);
  EXPECT_EQ(nested.fewest_args, 2);
}

TEST(ListOpsGenerate, EveryShortExampleEvaluatesToItsLabel) {
  data::ListOpsOptions o;
  o.sizes = {1500, 300, 300};
  o.min_length = 1;
  o.max_length = 120;
  std::map<int64_t, int64_t> labels;
  check_all(data::generate_listops(o), labels);
  EXPECT_EQ(labels.size(), 10u) << "every answer 0-9 should occur";
}

TEST(ListOpsGenerate, LongRangeArenaLengthsAndDepth) {  // the LRA defaults: 500-2000 tokens, depth 10
  data::ListOpsOptions o;
  o.sizes = {40, 10, 10};
  const data::ListOpsData d = data::generate_listops(o);
  check_all(d);
  int64_t deepest = 0;
  for (int64_t e = 0; e < d.split(Split::train).size(); ++e)
    deepest = std::max(deepest, evaluate_words(words_of(d.split(Split::train).example(e))).depth);
  EXPECT_GE(deepest, 8) << "long expressions should nest deeply";
}

TEST(ListOpsGenerate, TestSetDoesNotDependOnTheOtherSplitsAndSeedMatters) {
  data::ListOpsOptions a;
  a.sizes = {10, 5, 20};
  a.min_length = 20;
  a.max_length = 200;
  data::ListOpsOptions b = a;
  b.sizes = {50, 0, 20};
  const data::ListOpsData da = data::generate_listops(a), db = data::generate_listops(b);
  EXPECT_EQ(da.split(Split::test).tokens, db.split(Split::test).tokens);
  EXPECT_EQ(da.split(Split::test).labels, db.split(Split::test).labels);
  b.seed = 2;
  EXPECT_NE(data::generate_listops(b).split(Split::test).tokens, da.split(Split::test).tokens);
}

TEST(ListOpsBatches, ScoreEachExampleAtItsLastTokenOnly) {
  data::ListOpsOptions o;
  o.sizes = {7, 3, 0};
  o.min_length = 5;
  o.max_length = 30;
  const data::ListOpsData d = data::generate_listops(o);
  const data::ListOpsBatches batches(d, 40, 4, false);
  // Training batch 1 holds examples 4, 5, 6 and (wrapping) 0.
  const data::TokenBatch b = batches.train_batch(1);
  const auto in = b.inputs.to_vector<int64_t>(), tg = b.targets.to_vector<int64_t>();
  const data::ListOpsSplit& train = d.split(Split::train);
  for (int64_t r = 0; r < 4; ++r) {
    const int64_t e = (4 + r) % 7;
    const auto ex = train.example(e);
    const auto n = static_cast<int64_t>(ex.size());
    for (int64_t t = 0; t < 40; ++t) {
      EXPECT_EQ(in[r * 40 + t], t < n ? ex[t] : data::kListOpsPad) << "row " << r << " position " << t;
      EXPECT_EQ(tg[r * 40 + t], t == n - 1 ? data::kListOpsDigit0 + train.labels[e] : data::kIgnoreIndex);
    }
  }
  // Evaluation does not wrap: validation batch 0 scores its 3 examples and leaves row 3 empty.
  const auto eval_targets = batches.eval_batch(Split::validation, 0).targets.to_vector<int64_t>();
  EXPECT_EQ(std::count_if(eval_targets.begin(), eval_targets.end(), [](int64_t t) { return t != data::kIgnoreIndex; }),
            3);
  // Packed rows hold several examples, each scored at its own end.
  const data::ListOpsBatches packed(d, 200, 1, true);
  const auto packed_targets = packed.train_batch(0).targets.to_vector<int64_t>();
  EXPECT_GE(std::count_if(packed_targets.begin(), packed_targets.end(),
                          [](int64_t t) { return t != data::kIgnoreIndex; }),
            2);
  EXPECT_THROW(data::ListOpsBatches(d, 10, 4, false), ConfigError);  // rows shorter than an example
}

using ListOpsProgram = ProgramTest;

TEST_F(ListOpsProgram, WritesAFileTheEvaluatorAgreesWith) {
  TempDir dir;
  const auto out = dir / "listops.h5";
  const ProgramResult r = run_attnscale({"prepare", "listops", "--output", out.string(), "--train", "200",
                                         "--validation", "50", "--test", "50", "--min-length", "10", "--max-length",
                                         "256", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("test: 50 examples"), std::string::npos) << r.out;
  const data::ListOpsData d = data::read_listops(out);
  EXPECT_EQ(d.options.seed, 3u);
  EXPECT_EQ(d.options.max_length, 256);
  check_all(d);
}

TEST_F(ListOpsProgram, BadOptionsAreUsageErrorsAndWriteNothing) {
  TempDir dir;
  const auto out = (dir / "l.h5").string();
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--max-args", "1"},
           {"--min-length", "300", "--max-length", "200"},
           {"--max-depth", "0"},
           {"--value-p", "1.5"},
           {"--train", "-1"},
           {"--train", "ten"},
       }) {
    std::vector<std::string> args = {"prepare", "listops", "--output", out};
    args.insert(args.end(), bad.begin(), bad.end());
    const ProgramResult r = run_attnscale(args);
    EXPECT_EQ(r.exit_code, 2) << bad.front() << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << bad.front();
  }
  EXPECT_EQ(run_attnscale({"prepare", "listops"}).exit_code, 2);  // no --output
}

// Every committed configs/papers/listops_*.yaml trains (shortened: 2 steps on 64-token expressions)
// and its checkpoint is evaluated on the test split (data.eval_split may differ from training's).
TEST_F(ListOpsProgram, CommittedConfigsTrainAndEvaluateOnTheTestSplit) {
  TempDir dir;
  const auto file = (dir / "listops.h5").string();
  ASSERT_EQ(run_attnscale({"prepare", "listops", "--output", file, "--train", "16", "--validation", "8", "--test", "8",
                           "--min-length", "8", "--max-length", "64"})
                .exit_code,
            0);
  for (const std::string name : {"transformer", "local", "sparse", "sparsemax", "adaptive_span"}) {
    const std::string config = (source_dir / ("configs/papers/listops_" + name + ".yaml")).string();
    const std::vector<std::string> shortened = {"data.path=" + file, "data.seq_len=64", "model.max_seq_len=64",
                                                "data.batch_size=4", "train.steps=2", "train.eval_every=0",
                                                "train.eval_batches=2", "checkpoint.every=2", "optim.warmup_steps=1",
                                                "run.dir=" + (dir / name).string(), "logging.progress=off"};
    std::vector<std::string> train = {"train", config};
    train.insert(train.end(), shortened.begin(), shortened.end());
    const ProgramResult trained = run_attnscale(train);
    ASSERT_EQ(trained.exit_code, 0) << name << ": " << trained.out << trained.err;
    std::vector<std::string> eval = {"eval", config, "train.resume=auto", "data.eval_split=test"};
    eval.insert(eval.end(), shortened.begin(), shortened.end());
    const ProgramResult evaluated = run_attnscale(eval);
    ASSERT_EQ(evaluated.exit_code, 0) << name << ": " << evaluated.out << evaluated.err;
    EXPECT_NE(evaluated.out.find("\"eval_accuracy\""), std::string::npos) << name << ": " << evaluated.out;
  }
}

TEST_F(ListOpsProgram, ReadingRejectsOtherFiles) {
  TempDir dir;
  EXPECT_THROW(data::read_listops(dir / "missing.h5"), DataError);
  write_file(dir / "text.h5", "not hdf5");
  EXPECT_THROW(data::read_listops(dir / "text.h5"), DataError);
}

// The classifier's evaluation covers the validation split exactly once: every example scored once.
TEST(ListOpsTask, EvaluationScoresEveryValidationExampleOnce) {
  TempDir dir;
  data::ListOpsOptions o;
  o.sizes = {20, 13, 0};
  o.min_length = 4;
  o.max_length = 48;
  data::write_listops(dir / "l.h5", data::generate_listops(o));
  Config cfg;
  cfg.data.path = (dir / "l.h5").string();
  cfg.data.vocab_size = data::kListOpsVocabSize;
  cfg.data.seq_len = 48;
  cfg.data.batch_size = 5;
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  validate(cfg);
  train::LMTask task(cfg);
  int64_t scored = 0;
  for (int64_t i = 0; i < 3; ++i) scored += task.eval_batch(i).scored;
  EXPECT_EQ(scored, 13);
  EXPECT_DOUBLE_EQ(task.chance_accuracy(), 0.1);
  cfg.data.vocab_size = 12;
  EXPECT_THROW(train::LMTask{cfg}, ConfigError);
}

}  // namespace
}  // namespace attnscale::testing

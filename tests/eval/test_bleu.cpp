// framework/eval/bleu.h against sacreBLEU 2.6.0: its 13a tokens, sentence BLEU and corpus BLEU with
// every statistic, on the cases of make_bleu_fixtures.py (bleu_fixtures.json, committed).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "framework/eval/bleu.h"

namespace attnscale::eval {
namespace {

const nlohmann::json& fixtures() {
  static const nlohmann::json data = [] {
    std::ifstream in(std::string(ATTNSCALE_SOURCE_DIR) + "/tests/eval/bleu_fixtures.json");
    return nlohmann::json::parse(in);
  }();
  return data;
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& token : tokens) out += (out.empty() ? "" : " ") + token;
  return out;
}

// Counts and lengths exactly; the doubles to the last bits (the same operations in the same order,
// on the same libm).
void expect_score(const BleuScore& ours, const nlohmann::json& expected, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(ours.stats.hypothesis_length, expected["sys_len"].get<int64_t>());
  EXPECT_EQ(ours.stats.reference_length, expected["ref_len"].get<int64_t>());
  for (int n = 0; n < kBleuOrder; ++n) {
    EXPECT_EQ(ours.stats.matches[n], expected["counts"][n].get<int64_t>()) << "order " << n + 1;
    EXPECT_EQ(ours.stats.totals[n], expected["totals"][n].get<int64_t>()) << "order " << n + 1;
    EXPECT_NEAR(ours.precisions[n], expected["precisions"][n].get<double>(), 1e-12) << "order " << n + 1;
  }
  EXPECT_NEAR(ours.brevity_penalty, expected["bp"].get<double>(), 1e-15);
  EXPECT_NEAR(ours.score, expected["score"].get<double>(), 1e-12);
  EXPECT_EQ(ours.summary(), "BLEU = " + expected["summary"].get<std::string>());
}

TEST(Bleu, FixturesComeFromThePinnedSacreBleu) {
  EXPECT_EQ(fixtures()["sacrebleu_version"], "2.6.0");
  EXPECT_GE(fixtures()["sentence"].size(), 20u);
  EXPECT_GE(fixtures()["corpus"].size(), 5u);
}

TEST(Bleu, Tokenizer13aMatchesSacreBleu) {
  for (const auto& c : fixtures()["tokenize"]) {
    const std::string line = c["line"];
    EXPECT_EQ(joined(tokenize_13a(line)), c["tokens"].get<std::string>()) << "line: '" << line << "'";
  }
}

TEST(Bleu, SentenceBleuMatchesSacreBleu) {
  for (const auto& c : fixtures()["sentence"]) {
    const std::string hypothesis = c["hypothesis"];
    const auto references = c["references"].get<std::vector<std::string>>();
    expect_score(sentence_bleu(hypothesis, references), c, "hypothesis '" + hypothesis + "'");
  }
}

TEST(Bleu, CorpusBleuMatchesSacreBleu) {
  for (const auto& c : fixtures()["corpus"]) {
    const auto hypotheses = c["hypotheses"].get<std::vector<std::string>>();
    const auto references = c["references"].get<std::vector<std::vector<std::string>>>();
    expect_score(corpus_bleu(hypotheses, references), c, c["name"].get<std::string>());
  }
}

TEST(Bleu, CorpusStatisticsAreTheSumOfTheSentences) {
  const auto& c = fixtures()["corpus"][0];
  const auto hypotheses = c["hypotheses"].get<std::vector<std::string>>();
  const auto references = c["references"].get<std::vector<std::vector<std::string>>>();
  BleuStats total;
  for (size_t i = 0; i < hypotheses.size(); ++i) total += bleu_stats(hypotheses[i], {&references[0][i], 1});
  EXPECT_EQ(bleu_from_stats(total, false).score, corpus_bleu(hypotheses, references).score);
}

TEST(Bleu, MismatchedStreamsAreRefused) {
  const std::vector<std::string> hypotheses{"a b", "c"};
  const std::vector<std::vector<std::string>> references{{"a b"}};
  try {
    corpus_bleu(hypotheses, references);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[bleu] reference stream 0 has 1 sentences for 2 hypotheses"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sentence_bleu("a", {}), UsageError);
}

}  // namespace
}  // namespace attnscale::eval

#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/data/tokenizer.h"

namespace attnscale::data {
namespace {

using Strings = std::vector<std::string>;

TEST(Tokenizer, SplitsSentencesAtTerminalsNewlinesAndBreakTags) {
  EXPECT_EQ(split_sentences("Hello there. How are you? Fine!"), (Strings{"Hello there.", " How are you?", " Fine!"}));
  EXPECT_EQ(split_sentences("One<br /><br/>Two\nThree"), (Strings{"One", "Two", "Three"}));
  // A terminal inside a token (3.5, e.g.) does not end a sentence; closing quotes stay with it.
  EXPECT_EQ(split_sentences("It cost 3.5 dollars.\" He left..."), (Strings{"It cost 3.5 dollars.\"", " He left..."}));
  EXPECT_TRUE(split_sentences("  \n <br /> ").empty());
}

TEST(Tokenizer, WordsAreLowerCasedRunsWithInnerApostrophes) {
  EXPECT_EQ(tokenize_words("Don't STOP, 'me' now!"), (Strings{"don't", "stop", ",", "'", "me", "'", "now", "!"}));
  EXPECT_EQ(tokenize_words("caf\xc3\xa9 au-lait"), (Strings{"caf\xc3\xa9", "au", "-", "lait"}));
}

TEST(Tokenizer, DocumentDropsEmptySentences) {
  const auto doc = tokenize_document("A b.\n\n<br />C!");
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_EQ(doc[0], (Strings{"a", "b", "."}));
  EXPECT_EQ(doc[1], (Strings{"c", "!"}));
}

TEST(Vocabulary, OrdersByCountThenBytesAndHonoursLimits) {
  const std::unordered_map<std::string, int64_t> counts{{"the", 5}, {"a", 3}, {"b", 3}, {"rare", 1}};
  const Vocabulary all = Vocabulary::build(counts, 0, 1);
  EXPECT_EQ(all.words(), (Strings{"<pad>", "<unk>", "the", "a", "b", "rare"}));
  const Vocabulary limited = Vocabulary::build(counts, 4, 2);
  EXPECT_EQ(limited.words(), (Strings{"<pad>", "<unk>", "the", "a"}));
  EXPECT_EQ(limited.id("b"), Vocabulary::kUnk);
  EXPECT_EQ(limited.id("a"), 3);
  EXPECT_THROW(Vocabulary(Strings{"<pad>", "<unk>", "x", "x"}), UsageError);
}

}  // namespace
}  // namespace attnscale::data

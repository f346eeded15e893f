// The generated bAbI-style data (data/babi_like.h): batches are pure functions of (seed, index), the
// answer follows from the story's text by an independent reading, and the supporting facts are the
// sentences that decide it.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "framework/data/babi_like.h"
#include "tests/memory/memory_test_util.h"

namespace attnscale {
namespace {

using data::BabiSpec;
using data::BabiTask;

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Reads the story as text and answers the question: who is where, who holds what.
std::string answer_by_reading(const std::vector<std::string>& sentences, const std::string& question,
                              std::vector<int64_t>& deciding) {
  std::map<std::string, std::pair<std::string, int64_t>> location;  // person -> (place, sentence)
  std::map<std::string, std::pair<std::string, int64_t>> holder;    // object -> (person, sentence)
  for (size_t i = 0; i < sentences.size(); ++i) {
    const auto w = words_of(sentences[i]);
    if (w[1] == "picked" || w[1] == "got")
      holder[w.back()] = {w[0], static_cast<int64_t>(i)};
    else
      location[w[0]] = {w.back(), static_cast<int64_t>(i)};
  }
  const auto q = words_of(question);
  if (q.size() == 3) {
    deciding = {location.at(q[2]).second};
    return location.at(q[2]).first;
  }
  const auto& [person, pickup] = holder.at(q[3]);
  deciding = {pickup, location.at(person).second};
  return location.at(person).first;
}

void check_task(BabiTask task) {
  BabiSpec spec;
  spec.task = task;
  spec.batch_size = 64;
  const data::BabiTaskGenerator gen(spec);
  const auto batch = gen.batch(3);
  const int64_t slots = batch.story.shape()[1];
  const auto story = batch.story.to_vector<int64_t>();
  const auto lengths = batch.story_lengths.to_vector<int64_t>();
  const auto question = batch.question.to_vector<int64_t>();
  const auto answer = batch.answer.to_vector<int64_t>();
  const auto supporting = batch.supporting.to_vector<int64_t>();
  std::map<int64_t, int> answers_seen;
  for (int64_t b = 0; b < spec.batch_size; ++b) {
    ASSERT_GE(lengths[b], spec.min_sentences);
    ASSERT_LE(lengths[b], spec.max_sentences);
    std::vector<std::string> sentences;
    for (int64_t i = 0; i < slots; ++i) {
      const std::span<const int64_t> words(story.data() + (b * slots + i) * data::kBabiSentenceWords,
                                           data::kBabiSentenceWords);
      const std::string text = data::babi_text(words);
      if (i < lengths[b])
        sentences.push_back(text);
      else
        EXPECT_TRUE(text.empty()) << "padded slot " << i << " of story " << b << ": " << text;
    }
    const std::string q = data::babi_text({question.data() + b * data::kBabiQuestionWords, data::kBabiQuestionWords});
    std::vector<int64_t> deciding;
    const std::string expected = answer_by_reading(sentences, q, deciding);
    EXPECT_EQ(data::babi_vocabulary()[static_cast<size_t>(answer[b])], expected) << q;
    EXPECT_EQ(supporting[b * 2], deciding[0]) << q;
    EXPECT_EQ(supporting[b * 2 + 1], deciding.size() > 1 ? deciding[1] : -1) << q;
    ++answers_seen[answer[b]];
  }
  EXPECT_GE(answers_seen.size(), 4u) << "answers should vary over the locations";
  // Pure function of (seed, index).
  EXPECT_EQ(gen.batch(3).story.to_vector<int64_t>(), story);
  EXPECT_NE(gen.batch(4).story.to_vector<int64_t>(), story);
}

TEST(BabiLike, SingleFactAnswersFollowFromTheStory) { check_task(BabiTask::single_fact); }
TEST(BabiLike, TwoFactsAnswersFollowFromTheStory) { check_task(BabiTask::two_facts); }

TEST(BabiLike, AnswersAreLocations) {
  const auto ids = data::babi_answer_ids();
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(data::babi_vocabulary()[static_cast<size_t>(ids[0])], "kitchen");
  EXPECT_EQ(data::babi_vocabulary()[0], "<pad>");
}

TEST(BabiLike, BadSpecsNameTheOption) {
  BabiSpec spec;
  spec.task = BabiTask::two_facts;
  spec.min_sentences = 1;
  const auto message = testing::error_message([&] { data::BabiTaskGenerator{spec}; });
  EXPECT_NE(message.find("[babi] stories need 2 <= min_sentences"), std::string::npos) << message;
}

}  // namespace
}  // namespace attnscale

// The bAbI generator (data/babi_like.h) against an independent simulator: the simulator reads each
// story as text, replays the world from the generator's starting positions (so every statement must
// be possible: a move goes elsewhere, a pick-up finds the object where the actor is, a drop drops
// what the actor holds) and the reader's knowledge (what the text has told), and answers every
// question itself, supporting facts included. Also: the fixed data sets' shape and determinism, the
// HDF5 round trip, `attnscale prepare babi` and its exit codes, and the batches the model reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "framework/data/babi_like.h"
#include "framework/io/hdf5.h"
#include "tests/config/test_support.h"
#include "tests/memory/memory_test_util.h"

namespace attnscale {
namespace {

using data::BabiTask;

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// A place the text has told, and the statements that tell it.
struct Told {
  std::string place;  // "" = unknown
  std::set<int64_t> facts;
};

struct Answer {
  std::string place;
  std::vector<int64_t> facts;
};

// Replays a story sentence by sentence (text only) and answers questions about its prefix.
class Simulator {
 public:
  Simulator()
      : at_{{"mary", "bedroom"}, {"john", "kitchen"}, {"sandra", "garden"}, {"daniel", "hallway"}},
        lies_{{"football", "garden"}, {"apple", "kitchen"}, {"milk", "kitchen"}} {}

  // Applies statement `index`; a failed expectation when the world does not allow it.
  void apply(const std::string& text, int64_t index) {
    const auto w = words_of(text);
    ASSERT_GE(w.size(), 3u) << text;
    const std::string& actor = w[0];
    ASSERT_TRUE(at_.count(actor)) << text;
    const std::string verb = w[1] == "went" && w[2] == "back" ? "went back" : w[1];
    const std::set<std::string> moves = {"moved", "went", "journeyed", "travelled", "went back"};
    if (moves.count(verb)) {
      const std::string& place = w.back();
      ASSERT_NE(at_[actor], place) << "a move must go somewhere else: " << text;
      at_[actor] = place;
      told_actor_[actor] = {place, {index}};
    } else {
      const bool get = verb == "got" || verb == "grabbed" || verb == "took" || verb == "picked";
      const bool drop = verb == "dropped" || verb == "discarded" || verb == "left" || verb == "put";
      ASSERT_TRUE(get || drop) << "unknown statement: " << text;
      const std::string& object = w.back() == "there" ? w[w.size() - 2] : w.back();
      ASSERT_TRUE(lies_.count(object) || held_by_.count(object)) << text;
      if (get) {
        ASSERT_TRUE(lies_.count(object) && lies_[object] == at_[actor])
            << "a pick-up needs the object lying where the actor is: " << text;
        lies_.erase(object);
        held_by_[object] = actor;
        told_holder_[object] = {actor, index};
        told_lying_.erase(object);
      } else {
        ASSERT_TRUE(held_by_.count(object) && held_by_[object] == actor) << "a drop needs the holder: " << text;
        held_by_.erase(object);
        lies_[object] = at_[actor];
        told_holder_.erase(object);
        Told place = told_actor_[actor];
        if (!place.place.empty()) place.facts.insert(index);
        told_lying_[object] = place;
      }
    }
    for (const auto& [object, unused] : held_by_) record_history(object);
    for (const auto& [object, unused] : lies_) record_history(object);
  }

  Answer where_is_actor(const std::string& actor) {
    const Told& t = told_actor_[actor];
    return {t.place, {t.facts.begin(), t.facts.end()}};
  }
  Answer where_is_object(const std::string& object) const {
    const Told t = told_object(object);
    return {t.place, {t.facts.begin(), t.facts.end()}};
  }
  Answer where_was_before(const std::string& object, const std::string& last) const {
    const auto it = history_.find(object);
    if (it == history_.end() || it->second.size() < 2 || it->second.back().place != last) return {};
    const Told &before = it->second[it->second.size() - 2], &now = it->second.back();
    std::set<int64_t> facts = before.facts;
    facts.insert(now.facts.begin(), now.facts.end());
    return {before.place, {facts.begin(), facts.end()}};
  }

 private:
  Told told_object(const std::string& object) const {
    if (const auto h = told_holder_.find(object); h != told_holder_.end()) {
      const auto a = told_actor_.find(h->second.first);
      if (a == told_actor_.end() || a->second.place.empty()) return {};
      Told t = a->second;
      t.facts.insert(h->second.second);
      return t;
    }
    const auto l = told_lying_.find(object);
    return l == told_lying_.end() ? Told{} : l->second;
  }
  void record_history(const std::string& object) {
    const Told now = told_object(object);
    auto& h = history_[object];
    if (!now.place.empty() && (h.empty() || h.back().place != now.place)) h.push_back(now);
  }

  std::map<std::string, std::string> at_, lies_, held_by_;  // the world
  std::map<std::string, Told> told_actor_, told_lying_;     // the reader
  std::map<std::string, std::pair<std::string, int64_t>> told_holder_;
  std::map<std::string, std::vector<Told>> history_;
};

// Every question of `story` answered by the simulator; returns the questions checked.
int64_t check_story(BabiTask task, const std::vector<data::BabiSentence>& statements,
                    const std::vector<const data::BabiQuestion*>& questions) {
  Simulator sim;
  int64_t applied = 0, previous_context = 0;
  for (const data::BabiQuestion* q : questions) {
    EXPECT_GE(q->context, previous_context);
    if (task != BabiTask::single_fact) {
      EXPECT_GE(q->context - previous_context, 3) << "3 statements between questions";
    }
    previous_context = q->context;
    for (; applied < q->context; ++applied) {
      sim.apply(data::babi_text(statements[static_cast<size_t>(applied)]), applied);
      if (::testing::Test::HasFatalFailure()) return 0;
    }
    const std::string text = data::babi_text(q->words);
    const auto w = words_of(text);
    Answer expected;
    if (task == BabiTask::single_fact) {
      EXPECT_EQ(w.size(), 3u) << text;
      expected = sim.where_is_actor(w[2]);
    } else if (task == BabiTask::two_facts) {
      EXPECT_EQ(w.size(), 4u) << text;
      expected = sim.where_is_object(w[3]);
    } else {
      EXPECT_EQ(w.size(), 7u) << text;
      EXPECT_EQ(w[1], "was") << text;
      expected = sim.where_was_before(w[3], w[6]);
    }
    EXPECT_FALSE(expected.place.empty()) << "the story does not tell: " << text;
    EXPECT_EQ(data::babi_vocabulary()[static_cast<size_t>(q->answer)], expected.place) << text;
    EXPECT_EQ(q->supporting, expected.facts) << text;
    const size_t wanted = task == BabiTask::single_fact ? 1 : task == BabiTask::two_facts ? 2 : 3;
    EXPECT_GE(q->supporting.size(), wanted) << text;
  }
  for (; applied < static_cast<int64_t>(statements.size()); ++applied)
    sim.apply(data::babi_text(statements[static_cast<size_t>(applied)]), applied);
  return static_cast<int64_t>(questions.size());
}

class BabiTasks : public ::testing::TestWithParam<BabiTask> {};

TEST_P(BabiTasks, EveryAnswerOfTheFixedSetsMatchesTheSimulator) {
  const data::BabiDatasetSpec spec{GetParam(), 1000, 1000, 0.1, 7};
  const data::BabiDataset set = data::generate_babi_dataset(spec);
  ASSERT_EQ(set.questions.size(), 2000u);
  EXPECT_EQ(set.split(data::Split::train).size(), 900u);
  EXPECT_EQ(set.split(data::Split::validation).size(), 100u);
  EXPECT_EQ(set.split(data::Split::test).size(), 1000u);
  std::vector<std::vector<const data::BabiQuestion*>> by_story(set.stories.size());
  for (const auto& q : set.questions) by_story[static_cast<size_t>(q.story)].push_back(&q);
  int64_t checked = 0;
  std::map<int64_t, int64_t> answers;
  for (size_t n = 0; n < set.stories.size(); ++n) {
    EXPECT_EQ(by_story[n].size(), 5u) << "story " << n;
    checked += check_story(GetParam(), set.stories[n], by_story[n]);
    ASSERT_FALSE(HasFatalFailure()) << "story " << n;
    if (GetParam() == BabiTask::single_fact) {
      EXPECT_EQ(set.stories[n].size(), 10u);
    }
  }
  for (const auto& q : set.questions) ++answers[q.answer];
  EXPECT_EQ(checked, 2000);
  EXPECT_EQ(answers.size(), 6u) << "every location should be an answer somewhere";
  // No story is shared between the splits.
  std::map<int64_t, int> story_split;
  for (int s = 0; s < 3; ++s)
    for (const int64_t q : set.splits[static_cast<size_t>(s)]) {
      const auto [it, inserted] = story_split.emplace(set.questions[static_cast<size_t>(q)].story, s);
      EXPECT_TRUE(inserted || it->second == s) << "story " << it->first << " in two splits";
    }
  // Deterministic in the seed; another seed gives other stories.
  EXPECT_EQ(data::generate_babi_dataset(spec).stories, set.stories);
  EXPECT_NE(data::generate_babi_dataset({GetParam(), 1000, 1000, 0.1, 8}).stories, set.stories);
}

TEST_P(BabiTasks, StreamedBatchesHoldTheStoriesQuestions) {
  const data::BabiSpec spec{GetParam(), 50, 16, 3};
  const data::BabiTaskGenerator gen(spec);
  const data::BabiBatch batch = gen.batch(2);
  const auto lengths = batch.story_lengths.to_vector<int64_t>(), answer = batch.answer.to_vector<int64_t>();
  const auto question = batch.question.to_vector<int64_t>(), story = batch.story.to_vector<int64_t>();
  const int64_t slots = batch.story.shape()[1];
  for (int64_t b = 0; b < 16; ++b) {
    const data::BabiStory s = data::generate_babi_story(GetParam(), 3, static_cast<uint64_t>(2 * 16 + b));
    const std::vector<int64_t> words(question.begin() + b * data::kBabiQuestionWords,
                                     question.begin() + (b + 1) * data::kBabiQuestionWords);
    // One of the story's questions, with the most recent statements before it in the memory.
    const auto holds = [&](const data::BabiQuestion& q) {
      auto padded = q.words;
      padded.resize(data::kBabiQuestionWords, data::kBabiPadId);
      if (padded != words || q.answer != answer[b] || std::min<int64_t>(q.context, 50) != lengths[b]) return false;
      for (int64_t i = 0; i < lengths[b]; ++i) {
        const std::vector<int64_t> slot(story.begin() + (b * slots + i) * data::kBabiSentenceWords,
                                        story.begin() + (b * slots + i + 1) * data::kBabiSentenceWords);
        if (data::babi_text(slot) != data::babi_text(s.statements[static_cast<size_t>(q.context - lengths[b] + i)]))
          return false;
      }
      return true;
    };
    EXPECT_TRUE(std::any_of(s.questions.begin(), s.questions.end(), holds))
        << "batch question " << b << " is not one of its story's with its memory";
  }
  EXPECT_EQ(gen.batch(2).story.to_vector<int64_t>(), story);
}

INSTANTIATE_TEST_SUITE_P(Weston, BabiTasks,
                         ::testing::Values(BabiTask::single_fact, BabiTask::two_facts, BabiTask::three_facts),
                         [](const auto& info) { return std::string(data::babi_task_name(info.param)); });

TEST(BabiBatch, TheMemoryKeepsTheMostRecentStatements) {
  const data::BabiDataset set = data::generate_babi_dataset({BabiTask::three_facts, 50, 5, 0.0, 1});
  std::vector<data::BabiItem> items;
  for (int64_t q = 0; q < 8; ++q) items.push_back(set.item(q));
  const data::BabiBatch batch = data::make_babi_batch(items, 4);
  EXPECT_EQ(batch.story.shape(), Shape({8, 4, data::kBabiSentenceWords}));
  const auto supporting = batch.supporting.to_vector<int64_t>(), lengths = batch.story_lengths.to_vector<int64_t>();
  for (int64_t b = 0; b < 8; ++b) {
    const data::BabiQuestion& q = *items[static_cast<size_t>(b)].question;
    EXPECT_EQ(lengths[b], std::min<int64_t>(4, q.context));
    const int64_t first = q.context - lengths[b];
    for (size_t k = 0; k < q.supporting.size(); ++k)
      EXPECT_EQ(supporting[static_cast<size_t>(b * data::kBabiMaxSupport) + k],
                q.supporting[k] >= first ? q.supporting[k] - first : -1);
  }
}

TEST(BabiBatch, RandomNoiseAddsEmptyMemoriesAmongTheStatements) {
  const data::BabiDataset set = data::generate_babi_dataset({BabiTask::two_facts, 50, 5, 0.0, 2});
  std::vector<data::BabiItem> items;
  for (int64_t q = 0; q < 16; ++q) items.push_back(set.item(q));
  const data::BabiBatch plain = data::make_babi_batch(items, 50);
  EXPECT_EQ(data::make_babi_batch(items, 50, {0.0, 9, 0}).story.to_vector<int64_t>(), plain.story.to_vector<int64_t>());
  const data::BabiBatch noisy = data::make_babi_batch(items, 50, {0.5, 9, 0});
  EXPECT_EQ(data::make_babi_batch(items, 50, {0.5, 9, 0}).story.to_vector<int64_t>(), noisy.story.to_vector<int64_t>());
  EXPECT_NE(data::make_babi_batch(items, 50, {0.5, 9, 1 << 20}).story.to_vector<int64_t>(),
            noisy.story.to_vector<int64_t>());
  const auto story = noisy.story.to_vector<int64_t>(), lengths = noisy.story_lengths.to_vector<int64_t>(),
             supporting = noisy.supporting.to_vector<int64_t>();
  const int64_t slots = noisy.story.shape()[1];
  for (int64_t b = 0; b < 16; ++b) {
    const data::BabiQuestion& q = *items[static_cast<size_t>(b)].question;
    const auto empty = static_cast<int64_t>(0.5 * static_cast<double>(q.context) + 0.5);
    ASSERT_EQ(lengths[b], std::min<int64_t>(50, q.context + empty)) << "question " << b;
    // The non-empty slots are the most recent statements in their order; the rest is all padding.
    std::vector<std::string> kept;
    std::vector<int64_t> slot_of;
    for (int64_t s = 0; s < lengths[b]; ++s) {
      const std::vector<int64_t> words(story.begin() + (b * slots + s) * data::kBabiSentenceWords,
                                       story.begin() + (b * slots + s + 1) * data::kBabiSentenceWords);
      if (data::babi_text(words).empty()) continue;
      kept.push_back(data::babi_text(words));
      slot_of.push_back(s);
    }
    const auto& statements = set.stories[static_cast<size_t>(q.story)];
    const auto first = q.context - static_cast<int64_t>(kept.size());
    EXPECT_GE(lengths[b] - static_cast<int64_t>(kept.size()), std::min<int64_t>(empty, 1)) << "question " << b;
    for (size_t i = 0; i < kept.size(); ++i)
      EXPECT_EQ(kept[i], data::babi_text(statements[static_cast<size_t>(first) + i])) << "question " << b;
    for (size_t k = 0; k < q.supporting.size(); ++k) {
      const int64_t slot = supporting[static_cast<size_t>(b * data::kBabiMaxSupport) + k];
      if (q.supporting[k] < first) {
        EXPECT_EQ(slot, -1);
      } else {
        EXPECT_EQ(slot, slot_of[static_cast<size_t>(q.supporting[k] - first)]) << "question " << b;
      }
    }
  }
}

TEST(BabiStore, RoundTripsAndRefusesOtherFiles) {
  testing::TempDir dir;
  const data::BabiDataset set = data::generate_babi_dataset({BabiTask::two_facts, 100, 50, 0.1, 3});
  data::write_babi_dataset(dir / "b.h5", set);
  const data::BabiDataset back = data::read_babi_dataset(dir / "b.h5");
  EXPECT_EQ(back.task, set.task);
  EXPECT_EQ(back.stories, set.stories);
  EXPECT_EQ(back.splits, set.splits);
  ASSERT_EQ(back.questions.size(), set.questions.size());
  for (size_t q = 0; q < set.questions.size(); ++q) {
    EXPECT_EQ(back.questions[q].words, set.questions[q].words);
    EXPECT_EQ(back.questions[q].supporting, set.questions[q].supporting);
    EXPECT_EQ(back.questions[q].answer, set.questions[q].answer);
    EXPECT_EQ(back.questions[q].context, set.questions[q].context);
  }
  EXPECT_NE(testing::error_message([&] { data::read_babi_dataset(dir / "missing.h5"); }).find("attnscale prepare babi"),
            std::string::npos);
  {
    h5::File other = h5::File::create(dir / "other.h5");
    other.write_tensor("x", Tensor::from(std::vector<int64_t>{1}, {1}));
    other.close();
  }
  EXPECT_NE(testing::error_message([&] { data::read_babi_dataset(dir / "other.h5"); }).find("not an attnscale bAbI"),
            std::string::npos);
  // A question naming a story that does not exist: DataError naming it.
  data::BabiDataset broken = set;
  broken.questions[5].story = 999;
  EXPECT_NE(testing::error_message([&] { data::write_babi_dataset(dir / "c.h5", broken); }).find("question 5 names story 999"),
            std::string::npos);
}

class PrepareBabi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(testing::program)) << "build the program first";
  }
};

TEST_F(PrepareBabi, WritesTheSetAndReportsIt) {
  testing::TempDir dir;
  const auto out = dir / "task3.h5";
  const testing::ProgramResult r =
      testing::run_attnscale({"prepare", "babi", "--task", "3", "--output", out.string(), "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("bAbI task 3 (three_facts)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("train        900 questions"), std::string::npos) << r.out;
  const data::BabiDataset set = data::read_babi_dataset(out);
  EXPECT_EQ(set.task, BabiTask::three_facts);
  EXPECT_EQ(set.stories, data::generate_babi_dataset({BabiTask::three_facts, 1000, 1000, 0.1, 5}).stories);
}

// configs/papers/memn2n_babi_task{1,2,3}.yaml as committed, on a small set of their own task: a few
// steps of training and the test split once, as experiments/memn2n_babi/README.md runs them.
TEST_F(PrepareBabi, CommittedConfigsTrainAndEvaluateOnTheTestSplit) {
  testing::TempDir dir;
  for (const std::string task : {"1", "2", "3"}) {
    const std::string file = (dir / ("task" + task + ".h5")).string();
    ASSERT_EQ(testing::run_attnscale({"prepare", "babi", "--task", task, "--output", file, "--train-questions", "120",
                                      "--test-questions", "40"})
                  .exit_code,
              0);
    const std::string config = (testing::source_dir / ("configs/papers/memn2n_babi_task" + task + ".yaml")).string();
    const std::vector<std::string> shortened = {"data.path=" + file, "train.steps=3", "train.eval_every=3",
                                                "train.eval_batches=1", "checkpoint.every=3", "train.threads=1",
                                                "run.dir=" + (dir / task).string(), "logging.progress=off"};
    std::vector<std::string> train = {"train", config};
    train.insert(train.end(), shortened.begin(), shortened.end());
    const testing::ProgramResult trained = testing::run_attnscale(train);
    ASSERT_EQ(trained.exit_code, 0) << task << ": " << trained.out << trained.err;
    std::vector<std::string> eval = {"eval", config, "train.resume=auto", "memn2n.eval_split=test"};
    eval.insert(eval.end(), shortened.begin(), shortened.end());
    const testing::ProgramResult evaluated = testing::run_attnscale(eval);
    ASSERT_EQ(evaluated.exit_code, 0) << task << ": " << evaluated.out << evaluated.err;
    EXPECT_NE(evaluated.out.find("\"eval_accuracy\""), std::string::npos) << task << ": " << evaluated.out;
  }
}

TEST_F(PrepareBabi, BadOptionsAreUsageErrors) {
  testing::TempDir dir;
  const auto out = (dir / "b.h5").string();
  EXPECT_EQ(testing::run_attnscale({"prepare", "babi", "--task", "4", "--output", out}).exit_code, 2);
  EXPECT_EQ(testing::run_attnscale({"prepare", "babi", "--task", "1"}).exit_code, 2);
  EXPECT_EQ(testing::run_attnscale({"prepare", "babi", "--task", "1", "--output", out, "--train-questions", "0"}).exit_code,
            2);
  EXPECT_EQ(
      testing::run_attnscale({"prepare", "babi", "--task", "1", "--output", out, "--validation-fraction", "1.5"}).exit_code,
      2);
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace attnscale

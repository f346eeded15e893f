#include "framework/data/babi_like.h"

#include <algorithm>
#include <array>

#include "base/error.h"
#include "framework/core/tensor/random.h"

namespace attnscale::data {
namespace {

const std::array<const char*, 4> kPeople = {"mary", "john", "sandra", "daniel"};
const std::array<const char*, 6> kLocations = {"kitchen", "garden", "office", "bathroom", "hallway", "bedroom"};
const std::array<const char*, 3> kObjects = {"football", "apple", "milk"};
const std::array<const char*, 4> kMoveVerbs = {"moved", "went", "journeyed", "travelled"};

// Each story draws from its own counter range, so it depends on nothing else.
constexpr uint64_t kDrawsPerStory = uint64_t{1} << 16;

std::vector<std::string> make_vocabulary() {
  std::vector<std::string> words = {"<pad>", "where", "is", "the", "to", "picked", "up", "got"};
  words.insert(words.end(), kPeople.begin(), kPeople.end());
  words.insert(words.end(), kLocations.begin(), kLocations.end());
  words.insert(words.end(), kObjects.begin(), kObjects.end());
  words.insert(words.end(), kMoveVerbs.begin(), kMoveVerbs.end());
  return words;
}

int64_t id_of(std::string_view word) {
  const auto& vocab = babi_vocabulary();
  const auto it = std::find(vocab.begin(), vocab.end(), word);
  ATTNSCALE_CHECK(it != vocab.end(), "babi", "'{}' is not in the vocabulary", word);
  return it - vocab.begin();
}

struct Story {
  std::vector<std::vector<int64_t>> sentences;
  std::vector<int64_t> question;
  int64_t answer = 0;
  std::array<int64_t, 2> supporting = {-1, -1};
};

class Draws {
 public:
  Draws(uint64_t seed, uint64_t first) : seed_(seed), counter_(first) {}
  int64_t below(int64_t n) {
    return std::min(n - 1, static_cast<int64_t>(Generator::uniform(seed_, counter_++) * static_cast<float>(n)));
  }

 private:
  uint64_t seed_, counter_;
};

// A story of n sentences and its question. two_facts first places the question's pick-up and one
// move of its holder at two distinct random sentences, so every story is answerable in one draw.
Story draw_story(BabiTask task, int64_t n, Draws& draws) {
  constexpr int64_t people = kPeople.size(), objects = kObjects.size();
  std::array<int64_t, people> location{}, last_move{};
  location.fill(-1), last_move.fill(-1);
  std::array<int64_t, objects> holder{}, pickup{};
  holder.fill(-1), pickup.fill(-1);
  const bool two_facts = task == BabiTask::two_facts;
  const int64_t asked = draws.below(objects), asked_holder = draws.below(people);
  const int64_t asked_pickup = two_facts ? draws.below(n) : -1;
  const int64_t holder_move = two_facts ? (asked_pickup + 1 + draws.below(n - 1)) % n : -1;
  Story story;
  for (int64_t s = 0; s < n; ++s) {
    int64_t who = s == holder_move ? asked_holder : draws.below(people);
    int64_t object = draws.below(objects);
    const bool other_pickup =
        two_facts && s != holder_move && object != asked && holder[object] < 0 && draws.below(4) == 0;
    if (s == asked_pickup || other_pickup) {
      if (s == asked_pickup) who = asked_holder, object = asked;
      holder[object] = who, pickup[object] = s;
      story.sentences.push_back(
          draws.below(2) == 0
              ? std::vector<int64_t>{id_of(kPeople[who]), id_of("picked"), id_of("up"), id_of("the"),
                                     id_of(kObjects[object])}
              : std::vector<int64_t>{id_of(kPeople[who]), id_of("got"), id_of("the"), id_of(kObjects[object])});
      continue;
    }
    const int64_t where = draws.below(static_cast<int64_t>(kLocations.size()));
    location[who] = where, last_move[who] = s;
    story.sentences.push_back({id_of(kPeople[who]),
                               id_of(kMoveVerbs[draws.below(static_cast<int64_t>(kMoveVerbs.size()))]), id_of("to"),
                               id_of("the"), id_of(kLocations[where])});
  }
  if (two_facts) {
    story.question = {id_of("where"), id_of("is"), id_of("the"), id_of(kObjects[asked])};
    story.answer = id_of(kLocations[location[asked_holder]]);
    story.supporting = {asked_pickup, last_move[asked_holder]};
    return story;
  }
  std::vector<int64_t> moved;  // every sentence is a move, so somebody moved
  for (int64_t p = 0; p < people; ++p)
    if (location[p] >= 0) moved.push_back(p);
  const int64_t who = moved[static_cast<size_t>(draws.below(static_cast<int64_t>(moved.size())))];
  story.question = {id_of("where"), id_of("is"), id_of(kPeople[who])};
  story.answer = id_of(kLocations[location[who]]);
  story.supporting = {last_move[who], -1};
  return story;
}

}  // namespace

const std::vector<std::string>& babi_vocabulary() {
  static const std::vector<std::string> vocabulary = make_vocabulary();
  return vocabulary;
}

int64_t babi_vocab_size() { return static_cast<int64_t>(babi_vocabulary().size()); }

std::vector<int64_t> babi_answer_ids() {
  std::vector<int64_t> ids;
  for (const char* location : kLocations) ids.push_back(id_of(location));
  return ids;
}

std::string babi_text(std::span<const int64_t> words) {
  std::string text;
  const auto& vocab = babi_vocabulary();
  for (const int64_t id : words) {
    if (id == kBabiPadId) continue;
    ATTNSCALE_CHECK(id > 0 && id < babi_vocab_size(), "babi", "word id {} is outside [0, {})", id, babi_vocab_size());
    text += (text.empty() ? "" : " ") + vocab[static_cast<size_t>(id)];
  }
  return text;
}

BabiTaskGenerator::BabiTaskGenerator(const BabiSpec& spec) : spec_(spec) {
  const int64_t fewest = spec.task == BabiTask::two_facts ? 2 : 1;
  ATTNSCALE_CHECK(spec.min_sentences >= fewest && spec.min_sentences <= spec.max_sentences, "babi",
                  "stories need {} <= min_sentences <= max_sentences, got {} and {}", fewest, spec.min_sentences,
                  spec.max_sentences);
  ATTNSCALE_CHECK(spec.max_sentences <= 1000, "babi", "max_sentences must be at most 1000, got {}", spec.max_sentences);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "babi", "batch_size must be >= 1, got {}", spec.batch_size);
}

BabiBatch BabiTaskGenerator::batch(int64_t index) const {
  const int64_t batch = spec_.batch_size;
  std::vector<Story> stories(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    Draws draws(spec_.seed, static_cast<uint64_t>(index * batch + b) * kDrawsPerStory);
    const int64_t n = spec_.min_sentences + draws.below(spec_.max_sentences - spec_.min_sentences + 1);
    stories[static_cast<size_t>(b)] = draw_story(spec_.task, n, draws);
  }
  int64_t slots = 0;
  for (const auto& s : stories) slots = std::max(slots, static_cast<int64_t>(s.sentences.size()));
  std::vector<int64_t> story(static_cast<size_t>(batch * slots * kBabiSentenceWords), kBabiPadId);
  std::vector<int64_t> lengths, question(static_cast<size_t>(batch * kBabiQuestionWords), kBabiPadId), answer,
      supporting;
  for (int64_t b = 0; b < batch; ++b) {
    const Story& s = stories[static_cast<size_t>(b)];
    lengths.push_back(static_cast<int64_t>(s.sentences.size()));
    for (size_t i = 0; i < s.sentences.size(); ++i)
      std::copy(s.sentences[i].begin(), s.sentences[i].end(),
                story.begin() + (b * slots + static_cast<int64_t>(i)) * kBabiSentenceWords);
    std::copy(s.question.begin(), s.question.end(), question.begin() + b * kBabiQuestionWords);
    answer.push_back(s.answer);
    supporting.insert(supporting.end(), s.supporting.begin(), s.supporting.end());
  }
  return {Tensor::from(story, {batch, slots, kBabiSentenceWords}), Tensor::from(lengths, {batch}),
          Tensor::from(question, {batch, kBabiQuestionWords}), Tensor::from(answer, {batch}),
          Tensor::from(supporting, {batch, 2})};
}

double BabiTaskGenerator::chance_accuracy() const { return 1.0 / static_cast<double>(kLocations.size()); }

}  // namespace attnscale::data

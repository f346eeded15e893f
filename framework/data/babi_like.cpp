#include "framework/data/babi_like.h"

#include <algorithm>
#include <array>

#include "base/error.h"
#include "framework/tensor/random.h"

namespace attnscale::data {
namespace {

const std::array<const char*, 4> kPeople = {"mary", "john", "sandra", "daniel"};
const std::array<const char*, 6> kLocations = {"kitchen", "garden", "office", "bathroom", "hallway", "bedroom"};
const std::array<const char*, 3> kObjects = {"football", "apple", "milk"};
const std::array<const char*, 4> kMoveVerbs = {"moved", "went", "journeyed", "travelled"};

// Each story draws from its own counter range (retries included), so it depends on nothing else.
constexpr uint64_t kDrawsPerStory = uint64_t{1} << 16;
constexpr int kMaxTries = 64;

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

// One attempt at a story of n sentences; false when its question would have no answer (nobody
// picked anything up, or the holder never moved), and the caller draws again.
bool draw_story(BabiTask task, int64_t n, Draws& draws, Story& story) {
  constexpr int64_t people = kPeople.size(), objects = kObjects.size();
  std::array<int64_t, people> location{}, last_move{};
  location.fill(-1), last_move.fill(-1);
  std::array<int64_t, objects> holder{}, pickup{};
  holder.fill(-1), pickup.fill(-1);
  story = {};
  for (int64_t s = 0; s < n; ++s) {
    const int64_t who = draws.below(people);
    const int64_t free_object = draws.below(objects);
    if (task == BabiTask::two_facts && holder[free_object] < 0 && draws.below(3) == 0) {
      holder[free_object] = who, pickup[free_object] = s;
      story.sentences.push_back(draws.below(2) == 0
                                    ? std::vector<int64_t>{id_of(kPeople[who]), id_of("picked"), id_of("up"),
                                                           id_of("the"), id_of(kObjects[free_object])}
                                    : std::vector<int64_t>{id_of(kPeople[who]), id_of("got"), id_of("the"),
                                                           id_of(kObjects[free_object])});
      continue;
    }
    const int64_t where = draws.below(static_cast<int64_t>(kLocations.size()));
    location[who] = where, last_move[who] = s;
    story.sentences.push_back({id_of(kPeople[who]), id_of(kMoveVerbs[draws.below(static_cast<int64_t>(kMoveVerbs.size()))]), id_of("to"),
                               id_of("the"), id_of(kLocations[where])});
  }
  if (task == BabiTask::single_fact) {
    std::vector<int64_t> moved;
    for (int64_t p = 0; p < people; ++p)
      if (location[p] >= 0) moved.push_back(p);
    const int64_t who = moved[static_cast<size_t>(draws.below(static_cast<int64_t>(moved.size())))];
    story.question = {id_of("where"), id_of("is"), id_of(kPeople[who])};
    story.answer = id_of(kLocations[location[who]]);
    story.supporting = {last_move[who], -1};
    return true;
  }
  std::vector<int64_t> answerable;
  for (int64_t o = 0; o < objects; ++o)
    if (holder[o] >= 0 && location[holder[o]] >= 0) answerable.push_back(o);
  if (answerable.empty()) return false;
  const int64_t what = answerable[static_cast<size_t>(draws.below(static_cast<int64_t>(answerable.size())))];
  story.question = {id_of("where"), id_of("is"), id_of("the"), id_of(kObjects[what])};
  story.answer = id_of(kLocations[location[holder[what]]]);
  story.supporting = {pickup[what], last_move[holder[what]]};
  return true;
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
  ATTNSCALE_CHECK(spec.max_sentences <= 1000, "babi", "max_sentences must be at most 1000, got {}",
                  spec.max_sentences);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "babi", "batch_size must be >= 1, got {}", spec.batch_size);
}

BabiBatch BabiTaskGenerator::batch(int64_t index) const {
  const int64_t batch = spec_.batch_size;
  std::vector<Story> stories(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    Draws draws(spec_.seed, static_cast<uint64_t>(index * batch + b) * kDrawsPerStory);
    const int64_t n = spec_.min_sentences + draws.below(spec_.max_sentences - spec_.min_sentences + 1);
    bool ok = false;
    for (int tries = 0; tries < kMaxTries && !ok; ++tries) ok = draw_story(spec_.task, n, draws, stories[static_cast<size_t>(b)]);
    // Reaching this needs 64 unanswerable stories in a row (each has probability < 0.5 for n >= 2).
    ATTNSCALE_CHECK(ok, "babi", "no answerable story of {} sentences in {} draws (batch {}, story {})", n, kMaxTries,
                    index, b);
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

#include "framework/data/babi_like.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/core/tensor/random.h"

namespace attnscale::data {
namespace {

constexpr int64_t kActors = 4, kLocations = 6, kObjects = 3;
const std::array<const char*, kActors> kActorNames = {"mary", "john", "sandra", "daniel"};
const std::array<const char*, kLocations> kLocationNames = {"kitchen", "garden", "office",
                                                            "bathroom", "hallway", "bedroom"};
const std::array<const char*, kObjects> kObjectNames = {"football", "apple", "milk"};
// Where everybody starts (the generator's basic world). The reader is told none of it.
const std::array<int64_t, kActors> kActorStart = {5, 0, 1, 4};   // bedroom, kitchen, garden, hallway
const std::array<int64_t, kObjects> kObjectStart = {1, 0, 0};    // garden, kitchen, kitchen
// The verb phrases of each statement kind ("went back" and "picked up" are two words).
const std::vector<std::vector<const char*>> kMoves = {{"moved"}, {"went"}, {"journeyed"}, {"travelled"}, {"went", "back"}};
const std::vector<std::vector<const char*>> kGets = {{"got"}, {"grabbed"}, {"picked", "up"}, {"took"}};
const std::vector<std::vector<const char*>> kDrops = {{"dropped"}, {"discarded"}, {"put", "down"}, {"left"}};

// Each story draws from its own counter range, so it depends on nothing else.
constexpr uint64_t kDrawsPerStory = uint64_t{1} << 20;
// Statements a story may reach before the generator gives up (tasks 2 and 3 end after 5 questions;
// their stories are a few dozen statements long).
constexpr int64_t kMaxStatements = 5000;

std::vector<std::string> make_vocabulary() {
  std::vector<std::string> words = {"<pad>", "where", "is", "was", "the", "before", "to", "back", "picked", "up",
                                    "put", "down", "there", "moved", "went", "journeyed", "travelled", "got",
                                    "grabbed", "took", "dropped", "discarded", "left"};
  words.insert(words.end(), kActorNames.begin(), kActorNames.end());
  words.insert(words.end(), kLocationNames.begin(), kLocationNames.end());
  words.insert(words.end(), kObjectNames.begin(), kObjectNames.end());
  return words;
}

class Draws {
 public:
  Draws(uint64_t seed, uint64_t first) : seed_(seed), first_(first), counter_(first) {}
  int64_t below(int64_t n) {
    ATTNSCALE_CHECK(counter_ - first_ < kDrawsPerStory - 1, "babi", "a story used up its {} random draws",
                    kDrawsPerStory);
    return std::min(n - 1, static_cast<int64_t>(Generator::uniform(seed_, counter_++) * static_cast<float>(n)));
  }

 private:
  uint64_t seed_, first_, counter_;
};

// What the story has told so far: a known location and the statements that tell it.
struct Known {
  int64_t where = -1;  // location index; -1 = unknown
  std::vector<int64_t> support;
};

std::vector<int64_t> merged(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

// The world (where everybody and everything really is) and the reader's knowledge of it.
class World {
 public:
  World() : actor_at_(kActorStart), object_at_(kObjectStart) { holder_.fill(-1), known_holder_.fill(-1); }

  std::vector<BabiSentence> statements;

  // A move: an actor drawn uniformly goes to one of the five other locations (uniform over the
  // 4 x 5 valid moves).
  void random_move(Draws& draws) {
    const int64_t actor = draws.below(kActors);
    const int64_t location = (actor_at_[actor] + 1 + draws.below(kLocations - 1)) % kLocations;
    actor_at_[actor] = location;
    actors_[actor] = {location, {statement_index()}};
    BabiSentence s = {babi_word_id(kActorNames[actor])};
    append_phrase(s, kMoves, draws);
    for (const char* w : {"to", "the", kLocationNames[location]}) s.push_back(babi_word_id(w));
    add(std::move(s));
  }
  // A get or a drop, uniform over the valid ones (get what lies where the actor is, drop what it
  // holds); false when there is none.
  bool random_get_or_drop(Draws& draws) {
    std::vector<std::array<int64_t, 3>> clauses;  // actor, object, is_get
    for (int64_t a = 0; a < kActors; ++a)
      for (int64_t o = 0; o < kObjects; ++o) {
        if (holder_[o] < 0 && object_at_[o] == actor_at_[a]) clauses.push_back({a, o, 1});
        if (holder_[o] == a) clauses.push_back({a, o, 0});
      }
    if (clauses.empty()) return false;
    const auto [actor, object, is_get] = clauses[static_cast<size_t>(draws.below(static_cast<int64_t>(clauses.size())))];
    if (is_get) {
      holder_[object] = actor;
      known_holder_[object] = actor, got_[object] = statement_index(), lying_[object] = {};
    } else {
      holder_[object] = -1, object_at_[object] = actor_at_[actor];
      known_holder_[object] = -1;
      // Dropped where the dropper is: known when the dropper's location is.
      lying_[object] = actors_[actor].where < 0
                           ? Known{}
                           : Known{actors_[actor].where, merged(actors_[actor].support, {statement_index()})};
    }
    BabiSentence s = {babi_word_id(kActorNames[actor])};
    append_phrase(s, is_get ? kGets : kDrops, draws);
    for (const char* w : {"the", kObjectNames[object]}) s.push_back(babi_word_id(w));
    if (draws.below(2) == 0) s.push_back(babi_word_id("there"));
    add(std::move(s));
    return true;
  }

  const Known& actor(int64_t a) const { return actors_[a]; }
  // Where the story puts object o now: with the actor holding it, or where it was dropped.
  Known object(int64_t o) const {
    if (known_holder_[o] < 0) return lying_[o];
    const Known& holder = actors_[known_holder_[o]];
    return holder.where < 0 ? Known{} : Known{holder.where, merged(holder.support, {got_[o]})};
  }
  // The distinct successive locations the story has put object o in (task 3).
  const std::vector<Known>& history(int64_t o) const { return history_[o]; }

 private:
  int64_t statement_index() const { return static_cast<int64_t>(statements.size()); }
  static void append_phrase(BabiSentence& s, const std::vector<std::vector<const char*>>& phrases, Draws& draws) {
    for (const char* w : phrases[static_cast<size_t>(draws.below(static_cast<int64_t>(phrases.size())))])
      s.push_back(babi_word_id(w));
  }
  void add(BabiSentence s) {
    statements.push_back(std::move(s));
    for (int64_t o = 0; o < kObjects; ++o) {
      Known now = object(o);
      if (now.where >= 0 && (history_[o].empty() || history_[o].back().where != now.where))
        history_[o].push_back(std::move(now));
    }
  }

  std::array<int64_t, kActors> actor_at_;
  std::array<int64_t, kObjects> object_at_, holder_;  // holder -1: lying at object_at_
  std::array<Known, kActors> actors_;
  std::array<int64_t, kObjects> known_holder_, got_{};
  std::array<Known, kObjects> lying_;
  std::array<std::vector<Known>, kObjects> history_;
};

BabiQuestion question(int64_t context, BabiSentence words, int64_t answer_location, std::vector<int64_t> support) {
  BabiQuestion q;
  q.context = context;
  q.words = std::move(words);
  q.answer = babi_word_id(kLocationNames[answer_location]);
  q.supporting = std::move(support);
  return q;
}

}  // namespace

const char* babi_task_name(BabiTask task) {
  switch (task) {
    case BabiTask::single_fact: return "single_fact";
    case BabiTask::two_facts: return "two_facts";
    case BabiTask::three_facts: return "three_facts";
  }
  return "?";
}

const std::vector<std::string>& babi_vocabulary() {
  static const std::vector<std::string> vocabulary = make_vocabulary();
  return vocabulary;
}

int64_t babi_vocab_size() { return static_cast<int64_t>(babi_vocabulary().size()); }

int64_t babi_word_id(std::string_view word) {
  const auto& vocab = babi_vocabulary();
  const auto it = std::find(vocab.begin(), vocab.end(), word);
  ATTNSCALE_CHECK(it != vocab.end(), "babi", "'{}' is not in the vocabulary", word);
  return it - vocab.begin();
}

std::vector<int64_t> babi_answer_ids() {
  std::vector<int64_t> ids;
  for (const char* location : kLocationNames) ids.push_back(babi_word_id(location));
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

BabiStory generate_babi_story(BabiTask task, uint64_t seed, uint64_t index) {
  Draws draws(seed, index * kDrawsPerStory);
  World world;
  BabiStory story;
  const auto context = [&] { return static_cast<int64_t>(world.statements.size()); };
  if (task == BabiTask::single_fact) {
    // Two moves, then a question about an actor the story has placed; five times.
    for (int64_t round = 0; round < kBabiQuestionsPerStory; ++round) {
      world.random_move(draws), world.random_move(draws);
      std::vector<int64_t> placed;
      for (int64_t a = 0; a < kActors; ++a)
        if (world.actor(a).where >= 0) placed.push_back(a);
      const int64_t actor = placed[static_cast<size_t>(draws.below(static_cast<int64_t>(placed.size())))];
      story.questions.push_back(question(context(), {babi_word_id("where"), babi_word_id("is"),
                                                     babi_word_id(kActorNames[actor])},
                                         world.actor(actor).where, world.actor(actor).support));
    }
    story.statements = std::move(world.statements);
    return story;
  }
  int64_t since_question = 0;
  while (static_cast<int64_t>(story.questions.size()) < kBabiQuestionsPerStory) {
    ATTNSCALE_CHECK(context() < kMaxStatements, "babi", "story {} of seed {} reached {} statements", index, seed,
                    kMaxStatements);
    if (draws.below(3) == 0) {
      world.random_move(draws);
    } else if (!world.random_get_or_drop(draws)) {
      continue;  // nothing to get or drop: draw the action again
    }
    if (++since_question <= 2 || draws.below(2) != 0) continue;
    std::vector<int64_t> askable;
    for (int64_t o = 0; o < kObjects; ++o)
      if (task == BabiTask::two_facts ? world.object(o).where >= 0 : world.history(o).size() >= 2) askable.push_back(o);
    if (askable.empty()) continue;
    const int64_t object = askable[static_cast<size_t>(draws.below(static_cast<int64_t>(askable.size())))];
    const int64_t the = babi_word_id("the"), name = babi_word_id(kObjectNames[object]);
    if (task == BabiTask::two_facts) {
      const Known now = world.object(object);
      story.questions.push_back(
          question(context(), {babi_word_id("where"), babi_word_id("is"), the, name}, now.where, now.support));
    } else {
      const auto& history = world.history(object);
      const Known &before = history[history.size() - 2], &last = history.back();
      story.questions.push_back(question(context(),
                                         {babi_word_id("where"), babi_word_id("was"), the, name,
                                          babi_word_id("before"), the, babi_word_id(kLocationNames[last.where])},
                                         before.where, merged(before.support, last.support)));
    }
    since_question = 0;
  }
  story.statements = std::move(world.statements);
  return story;
}

namespace {

// The memory of one question: statement indices, oldest first, -1 for an empty memory (noise).
std::vector<int64_t> babi_memory(const BabiQuestion& q, int64_t memory_size, const BabiNoise& noise,
                                 uint64_t first_counter) {
  std::vector<int64_t> memory;
  for (int64_t s = 0; s < q.context; ++s) memory.push_back(s);
  if (noise.fraction > 0) {
    Draws draws(noise.seed, first_counter);
    const auto empty = static_cast<int64_t>(noise.fraction * static_cast<double>(q.context) + 0.5);
    for (int64_t e = 0; e < empty && e < static_cast<int64_t>(kBabiNoiseDraws) - 2; ++e) {
      const int64_t at = draws.below(static_cast<int64_t>(memory.size()) + 1);
      memory.insert(memory.begin() + at, -1);
    }
  }
  if (static_cast<int64_t>(memory.size()) > memory_size) memory.erase(memory.begin(), memory.end() - memory_size);
  return memory;
}

}  // namespace

BabiBatch make_babi_batch(std::span<const BabiItem> items, int64_t memory_size, const BabiNoise& noise) {
  ATTNSCALE_CHECK(memory_size >= 1, "babi", "memory_size must be >= 1, got {}", memory_size);
  ATTNSCALE_CHECK(!items.empty(), "babi", "a batch needs at least one question");
  ATTNSCALE_CHECK(noise.fraction >= 0 && noise.fraction < 1, "babi", "the noise fraction must be in [0, 1), got {}",
                  noise.fraction);
  const auto batch = static_cast<int64_t>(items.size());
  std::vector<std::vector<int64_t>> memories;
  int64_t slots = 1;
  for (int64_t b = 0; b < batch; ++b) {
    const BabiItem& item = items[static_cast<size_t>(b)];
    const BabiQuestion& q = *item.question;
    ATTNSCALE_CHECK(q.context >= 1 && q.context <= static_cast<int64_t>(item.statements.size()), "babi",
                    "question {} of a batch has context {} but its story has {} statements", b, q.context,
                    item.statements.size());
    memories.push_back(babi_memory(q, memory_size, noise, noise.first_counter + static_cast<uint64_t>(b) * kBabiNoiseDraws));
    slots = std::max(slots, static_cast<int64_t>(memories.back().size()));
  }
  std::vector<int64_t> story(static_cast<size_t>(batch * slots * kBabiSentenceWords), kBabiPadId), lengths,
      question(static_cast<size_t>(batch * kBabiQuestionWords), kBabiPadId), answer,
      supporting(static_cast<size_t>(batch * kBabiMaxSupport), -1);
  for (int64_t b = 0; b < batch; ++b) {
    const BabiItem& item = items[static_cast<size_t>(b)];
    const BabiQuestion& q = *item.question;
    const std::vector<int64_t>& memory = memories[static_cast<size_t>(b)];
    lengths.push_back(static_cast<int64_t>(memory.size()));
    for (size_t slot = 0; slot < memory.size(); ++slot) {
      if (memory[slot] < 0) continue;  // an empty memory
      const BabiSentence& words = item.statements[static_cast<size_t>(memory[slot])];
      ATTNSCALE_CHECK(static_cast<int64_t>(words.size()) <= kBabiSentenceWords, "babi",
                      "a statement has {} words, more than {}", words.size(), kBabiSentenceWords);
      std::copy(words.begin(), words.end(),
                story.begin() + (b * slots + static_cast<int64_t>(slot)) * kBabiSentenceWords);
    }
    ATTNSCALE_CHECK(static_cast<int64_t>(q.words.size()) <= kBabiQuestionWords, "babi",
                    "a question has {} words, more than {}", q.words.size(), kBabiQuestionWords);
    std::copy(q.words.begin(), q.words.end(), question.begin() + b * kBabiQuestionWords);
    answer.push_back(q.answer);
    for (size_t k = 0; k < q.supporting.size() && k < static_cast<size_t>(kBabiMaxSupport); ++k) {
      const auto slot = std::find(memory.begin(), memory.end(), q.supporting[k]);
      if (slot != memory.end()) supporting[static_cast<size_t>(b * kBabiMaxSupport) + k] = slot - memory.begin();
    }
  }
  return {Tensor::from(story, {batch, slots, kBabiSentenceWords}), Tensor::from(lengths, {batch}),
          Tensor::from(question, {batch, kBabiQuestionWords}), Tensor::from(answer, {batch}),
          Tensor::from(supporting, {batch, kBabiMaxSupport})};
}

BabiItem BabiDataset::item(int64_t q) const {
  const BabiQuestion& question = questions[static_cast<size_t>(q)];
  return {stories[static_cast<size_t>(question.story)], &question};
}

BabiDataset generate_babi_dataset(const BabiDatasetSpec& spec) {
  ATTNSCALE_CHECK(spec.train_questions >= 1 && spec.test_questions >= 1, "babi",
                  "need at least one training and one test question, got {} and {}", spec.train_questions,
                  spec.test_questions);
  ATTNSCALE_CHECK(spec.validation_fraction >= 0 && spec.validation_fraction < 1, "babi",
                  "validation_fraction must be in [0, 1), got {}", spec.validation_fraction);
  BabiDataset data;
  data.task = spec.task;
  data.seed = spec.seed;
  data.source = fmt::format("bAbI task {} ({}), generated by attnscale prepare babi: {} training + {} test questions, "
                            "validation fraction {}, seed {}",
                            static_cast<int>(spec.task), babi_task_name(spec.task), spec.train_questions,
                            spec.test_questions, spec.validation_fraction, spec.seed);
  // Whole stories (five questions each) until the part has its questions; the story's last
  // questions are dropped where the count is not a multiple of five.
  const auto add_part = [&](uint64_t seed, int64_t wanted) {
    std::vector<std::vector<int64_t>> story_questions;
    int64_t added = 0;
    for (uint64_t n = 0; added < wanted; ++n) {
      BabiStory story = generate_babi_story(spec.task, seed, n);
      const auto id = static_cast<int64_t>(data.stories.size());
      data.stories.push_back(std::move(story.statements));
      story_questions.emplace_back();
      for (BabiQuestion& q : story.questions) {
        if (added == wanted) break;
        q.story = id;
        story_questions.back().push_back(static_cast<int64_t>(data.questions.size()));
        data.questions.push_back(std::move(q));
        ++added;
      }
    }
    return story_questions;
  };
  const auto train_stories = add_part(spec.seed, spec.train_questions);
  const auto validation_stories = static_cast<size_t>(
      static_cast<double>(train_stories.size()) * spec.validation_fraction + 0.5);
  for (size_t n = 0; n < train_stories.size(); ++n) {
    auto& split = data.splits[static_cast<size_t>(n + validation_stories < train_stories.size() ? Split::train
                                                                                                  : Split::validation)];
    split.insert(split.end(), train_stories[n].begin(), train_stories[n].end());
  }
  for (const auto& ids : add_part(spec.seed + 1, spec.test_questions))
    data.splits[static_cast<size_t>(Split::test)].insert(data.splits[static_cast<size_t>(Split::test)].end(),
                                                         ids.begin(), ids.end());
  data.validate("generated bAbI data");
  return data;
}

void BabiDataset::validate(const std::string& where) const {
  const auto fail = [&](const std::string& what) { throw DataError(fmt::format("[babi] {}: {}", where, what)); };
  const int64_t vocab = babi_vocab_size();
  const auto check_words = [&](const BabiSentence& words, int64_t width, const std::string& what) {
    if (words.empty() || static_cast<int64_t>(words.size()) > width)
      fail(fmt::format("{} has {} words (1..{} allowed)", what, words.size(), width));
    for (const int64_t id : words)
      if (id <= kBabiPadId || id >= vocab) fail(fmt::format("{} has word id {} outside [1, {})", what, id, vocab));
  };
  for (size_t n = 0; n < stories.size(); ++n)
    for (size_t s = 0; s < stories[n].size(); ++s)
      check_words(stories[n][s], kBabiSentenceWords, fmt::format("statement {} of story {}", s, n));
  const auto answers = babi_answer_ids();
  for (size_t i = 0; i < questions.size(); ++i) {
    const BabiQuestion& q = questions[i];
    const std::string name = fmt::format("question {}", i);
    if (q.story < 0 || q.story >= static_cast<int64_t>(stories.size()))
      fail(fmt::format("{} names story {} of {}", name, q.story, stories.size()));
    const auto statements = static_cast<int64_t>(stories[static_cast<size_t>(q.story)].size());
    if (q.context < 1 || q.context > statements)
      fail(fmt::format("{} has context {} but its story has {} statements", name, q.context, statements));
    check_words(q.words, kBabiQuestionWords, name);
    if (std::find(answers.begin(), answers.end(), q.answer) == answers.end())
      fail(fmt::format("{} has answer id {}, not a location", name, q.answer));
    if (q.supporting.empty() || static_cast<int64_t>(q.supporting.size()) > kBabiMaxSupport)
      fail(fmt::format("{} has {} supporting facts (1..{} allowed)", name, q.supporting.size(), kBabiMaxSupport));
    for (size_t k = 0; k < q.supporting.size(); ++k)
      if (q.supporting[k] < 0 || q.supporting[k] >= q.context || (k > 0 && q.supporting[k] <= q.supporting[k - 1]))
        fail(fmt::format("{} supporting fact {} is {}: not an ascending statement before the question", name, k,
                         q.supporting[k]));
  }
  for (size_t s = 0; s < splits.size(); ++s)
    for (const int64_t q : splits[s])
      if (q < 0 || q >= static_cast<int64_t>(questions.size()))
        fail(fmt::format("split {} names question {} of {}", split_name(static_cast<Split>(s)), q, questions.size()));
}

BabiTaskGenerator::BabiTaskGenerator(const BabiSpec& spec) : spec_(spec) {
  ATTNSCALE_CHECK(spec.memory_size >= 1, "babi", "memory_size must be >= 1, got {}", spec.memory_size);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "babi", "batch_size must be >= 1, got {}", spec.batch_size);
}

BabiBatch BabiTaskGenerator::batch(int64_t index) const {
  std::vector<BabiStory> stories;
  std::vector<BabiItem> items;
  for (int64_t b = 0; b < spec_.batch_size; ++b) {
    const auto n = static_cast<uint64_t>(index * spec_.batch_size + b);
    stories.push_back(generate_babi_story(spec_.task, spec_.seed, n));
  }
  for (size_t b = 0; b < stories.size(); ++b) {
    // The last draw of the story's counter range picks its question (the story itself uses far fewer).
    const auto n = static_cast<uint64_t>(index * spec_.batch_size) + b;
    const auto pick = static_cast<size_t>(std::min<float>(kBabiQuestionsPerStory - 1,
        Generator::uniform(spec_.seed, (n + 1) * kDrawsPerStory - 1) * static_cast<float>(kBabiQuestionsPerStory)));
    items.push_back({stories[b].statements, &stories[b].questions[pick]});
  }
  return make_babi_batch(items, spec_.memory_size);
}

double BabiTaskGenerator::chance_accuracy() const { return 1.0 / static_cast<double>(kLocations); }

}  // namespace attnscale::data

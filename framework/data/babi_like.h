// A generated question-answering task in the style of bAbI (Weston et al. 2015, 1502.05698), for
// memory networks: a story of short sentences, a question, a one-word answer.
//   single_fact (bAbI task 1): "mary moved to the kitchen" ... "where is mary" -> the person's last
//     location (one supporting fact: that person's last move).
//   two_facts (bAbI task 2): moves mixed with "john picked up the apple" ... "where is the apple" ->
//     the location of the person who holds it (two supporting facts: the pick-up and the holder's
//     last move).
// Batch i is a pure function of (seed, i), like framework/data/synthetic.h. The vocabulary is fixed
// (babi_vocabulary()); id 0 is padding.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

enum class BabiTask { single_fact, two_facts };

inline constexpr int64_t kBabiPadId = 0;
inline constexpr int64_t kBabiSentenceWords = 5;  // the longest sentences ("mary picked up the apple")
inline constexpr int64_t kBabiQuestionWords = 4;  // "where is the apple"

struct BabiSpec {
  BabiTask task = BabiTask::single_fact;
  int64_t min_sentences = 2;
  int64_t max_sentences = 10;
  int64_t batch_size = 32;
  uint64_t seed = 1234;
};

struct BabiBatch {
  Tensor story;          // int64 [B, M, kBabiSentenceWords]: sentence s of story b, words right-padded
  Tensor story_lengths;  // int64 [B]: sentences in each story (M = the longest); later slots are padding
  Tensor question;       // int64 [B, kBabiQuestionWords], right-padded
  Tensor answer;         // int64 [B]: a location's word id
  Tensor supporting;     // int64 [B, 2]: indices of the supporting sentences (-1 where there is no second)
};

// The words, indexed by id (id 0 is "<pad>").
const std::vector<std::string>& babi_vocabulary();
int64_t babi_vocab_size();
// The word ids an answer can take (the locations).
std::vector<int64_t> babi_answer_ids();

class BabiTaskGenerator {
 public:
  explicit BabiTaskGenerator(const BabiSpec& spec);
  BabiBatch batch(int64_t index) const;
  const BabiSpec& spec() const { return spec_; }
  double chance_accuracy() const;  // uniform guessing among the locations

 private:
  BabiSpec spec_;
};

// A sentence or question as text ("mary moved to the kitchen"), for logs and tests.
std::string babi_text(std::span<const int64_t> words);

}  // namespace attnscale::data

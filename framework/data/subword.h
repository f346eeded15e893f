// Subword vocabularies from SentencePiece (Kudo & Richardson 2018; Debian's libsentencepiece):
// training on a list of sentences, and encoding / decoding with a trained model held as its
// serialized ModelProto, the bytes `attnscale prepare pairs` stores in the HDF5 corpus.
//   std::string proto = data::train_subword_model(training_sentences, {.vocab_size = 8000});
//   data::SubwordModel model(proto);
//   std::vector<int32_t> ids = model.encode("In the beginning");   // no bos/eos
//   std::string text = model.decode(ids);                           // "In the beginning"
// Every model reserves ids 0 <pad>, 1 <s> (bos), 2 </s> (eos) and 3 <unk>, the ids the seq2seq and
// encoder-decoder tasks use (transduction.h). Text is not normalised (the identity rule; runs of
// spaces become one and leading/trailing spaces go), so decode(encode(s)) == s for whitespace-
// normalised text whose characters were all seen in training (character_coverage = 1); an unseen
// character encodes as <unk> and decodes as " ⁇ ".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace attnscale::data {

inline constexpr int32_t kSubwordPad = 0, kSubwordBos = 1, kSubwordEos = 2, kSubwordUnk = 3;

enum class SubwordAlgorithm { unigram, bpe };
const char* subword_algorithm_name(SubwordAlgorithm algorithm);  // "unigram", "bpe"

struct SubwordTraining {
  int64_t vocab_size = 8000;  // pieces in all, the four special ones included
  SubwordAlgorithm algorithm = SubwordAlgorithm::unigram;
  uint64_t seed = 1234;  // SentencePiece's own sampling (it draws when it subsamples sentences)
};

// Trains a model on `sentences` (each non-empty UTF-8) and returns its serialized ModelProto.
// vocab_size is a soft limit: a corpus too small for it gets fewer pieces (the model's
// vocab_size() says how many). UsageError for a vocab_size below 5; DataError with SentencePiece's
// message when training fails.
std::string train_subword_model(std::span<const std::string> sentences, const SubwordTraining& training);

class SubwordModel {
 public:
  // DataError naming `what` (the file and dataset it came from) when the bytes are not a model.
  explicit SubwordModel(const std::string& serialized_proto, const std::string& what = "subword model");
  SubwordModel(SubwordModel&&) noexcept;
  SubwordModel& operator=(SubwordModel&&) noexcept;
  ~SubwordModel();

  int64_t vocab_size() const;
  const std::string& serialized() const { return serialized_; }
  std::vector<int32_t> encode(const std::string& text) const;
  // Ids to text (a model's output: stops at the first eos, skips pad and bos). An id outside the
  // vocabulary is a UsageError naming it.
  std::string decode(std::span<const int32_t> ids) const;
  std::string decode(std::span<const int64_t> ids) const;
  std::string piece(int32_t id) const;

 private:
  std::string serialized_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace attnscale::data

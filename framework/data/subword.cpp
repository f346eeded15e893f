#include "framework/data/subword.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "base/error.h"

namespace attnscale::data {
namespace {

// Hands SentencePiece the sentences from memory (it would otherwise read a file).
class SentenceSpan : public sentencepiece::SentenceIterator {
 public:
  explicit SentenceSpan(std::span<const std::string> sentences) : sentences_(sentences) {}
  bool done() const override { return next_ >= sentences_.size(); }
  void Next() override { ++next_; }
  const std::string& value() const override { return sentences_[next_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::span<const std::string> sentences_;
  size_t next_ = 0;
};

template <typename Id>
std::string decode_ids(const sentencepiece::SentencePieceProcessor& processor, std::span<const Id> ids) {
  const int64_t vocab = processor.GetPieceSize();
  std::vector<int> kept;
  for (const Id id : ids) {
    if (id == kSubwordEos) break;
    if (id == kSubwordPad || id == kSubwordBos) continue;
    ATTNSCALE_CHECK(id >= 0 && id < vocab, "subword", "id {} is outside the vocabulary of {} pieces", id, vocab);
    kept.push_back(static_cast<int>(id));
  }
  std::string text;
  const auto status = processor.Decode(kept, &text);
  if (!status.ok()) throw DataError(fmt::format("[subword] decoding failed: {}", status.ToString()));
  return text;
}

}  // namespace

const char* subword_algorithm_name(SubwordAlgorithm algorithm) {
  return algorithm == SubwordAlgorithm::bpe ? "bpe" : "unigram";
}

std::string train_subword_model(std::span<const std::string> sentences, const SubwordTraining& training) {
  ATTNSCALE_CHECK(training.vocab_size >= 5, "subword", "vocab_size must be at least 5 (4 special pieces), got {}",
                  training.vocab_size);
  if (sentences.empty()) throw DataError("[subword] no training sentence");
  const std::unordered_map<std::string, std::string> options{
      {"model_type", subword_algorithm_name(training.algorithm)},
      {"vocab_size", std::to_string(training.vocab_size)},
      {"hard_vocab_limit", "false"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"pad_id", std::to_string(kSubwordPad)},
      {"bos_id", std::to_string(kSubwordBos)},
      {"eos_id", std::to_string(kSubwordEos)},
      {"unk_id", std::to_string(kSubwordUnk)},
      {"input_sentence_size", "0"},  // every sentence: no subsampling
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", "65536"},  // bytes; longer sentences would be dropped silently
      {"num_threads", "1"},              // the same pieces whatever the machine
      {"minloglevel", "2"},              // its progress log is long; errors still come back as status
  };
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(training.seed));
  SentenceSpan iterator(sentences);
  std::string proto;
  const auto status = sentencepiece::SentencePieceTrainer::Train(options, &iterator, &proto);
  if (!status.ok()) throw DataError(fmt::format("[subword] SentencePiece training failed: {}", status.ToString()));
  return proto;
}

SubwordModel::SubwordModel(const std::string& serialized_proto, const std::string& what)
    : serialized_(serialized_proto), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = processor_->LoadFromSerializedProto(serialized_);
  if (!status.ok()) throw DataError(fmt::format("[subword] {} is not a SentencePiece model: {}", what, status.ToString()));
  if (processor_->pad_id() != kSubwordPad || processor_->bos_id() != kSubwordBos ||
      processor_->eos_id() != kSubwordEos || processor_->unk_id() != kSubwordUnk)
    throw DataError(fmt::format("[subword] {}: special ids pad {}, bos {}, eos {}, unk {}; attnscale needs 0, 1, 2, 3",
                                what, processor_->pad_id(), processor_->bos_id(), processor_->eos_id(),
                                processor_->unk_id()));
}

SubwordModel::SubwordModel(SubwordModel&&) noexcept = default;
SubwordModel& SubwordModel::operator=(SubwordModel&&) noexcept = default;
SubwordModel::~SubwordModel() = default;

int64_t SubwordModel::vocab_size() const { return processor_->GetPieceSize(); }

std::vector<int32_t> SubwordModel::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw DataError(fmt::format("[subword] encoding failed: {}", status.ToString()));
  return {ids.begin(), ids.end()};
}

std::string SubwordModel::decode(std::span<const int32_t> ids) const { return decode_ids(*processor_, ids); }
std::string SubwordModel::decode(std::span<const int64_t> ids) const { return decode_ids(*processor_, ids); }

std::string SubwordModel::piece(int32_t id) const {
  ATTNSCALE_CHECK(id >= 0 && id < vocab_size(), "subword", "id {} is outside the vocabulary of {} pieces", id,
                  vocab_size());
  return processor_->IdToPiece(id);
}

}  // namespace attnscale::data

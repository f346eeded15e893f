// Sentence splitting, word tokenisation and the vocabulary of `attnscale prepare docs`. The rules
// are deliberately simple, byte-based and locale-free, so a corpus prepared anywhere gets the same
// ids:
//   - "<br />" (any case, any spacing, as in web reviews) and every newline end a sentence.
//   - A run of '.', '!' or '?', optionally followed by closing quotes or brackets (" ' ) ]), ends a
//     sentence when whitespace or the end of the text follows it. Abbreviations ("Mr. Darcy") are
//     not special-cased: they split, which is what the HAN paper's tokeniser-free baselines do too.
//   - Words are maximal runs of ASCII letters and digits and of bytes >= 0x80 (UTF-8 sequences stay
//     whole); an apostrophe between two such characters stays inside the word ("don't"). ASCII
//     letters are lower-cased. Every other non-space character is a token of its own.
//   - A sentence without tokens is dropped (it contributes nothing); a document without any token
//     is a malformed record (see corpus.h), never silently dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attnscale::data {

// The sentences of `text`, each as its token strings (empty sentences left out).
std::vector<std::vector<std::string>> tokenize_document(std::string_view text);
std::vector<std::string> split_sentences(std::string_view text);
std::vector<std::string> tokenize_words(std::string_view sentence);
// The UTF-8 characters of `text` in order, each a string of its 1-4 bytes (continuation bytes stay
// with the character they continue); nothing dropped, nothing case-folded.
std::vector<std::string> split_characters(std::string_view text);

// Token ids: 0 = "<pad>", 1 = "<unk>", then words by descending count (ties by byte order).
class Vocabulary {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1;

  Vocabulary();  // only the two special tokens
  explicit Vocabulary(std::vector<std::string> words);  // words[0..1] must be the specials
  // Words seen at least min_count times, most frequent first, up to max_size ids in all (specials
  // included; 0 = no limit).
  static Vocabulary build(const std::unordered_map<std::string, int64_t>& counts, int64_t max_size,
                          int64_t min_count);

  int64_t id(const std::string& word) const;  // kUnk when absent
  const std::vector<std::string>& words() const { return words_; }
  int64_t size() const { return static_cast<int64_t>(words_.size()); }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> ids_;
};

}  // namespace attnscale::data

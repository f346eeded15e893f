#include "framework/data/tokenizer.h"

#include <algorithm>

#include "base/error.h"

namespace attnscale::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool is_word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80;
}
bool is_terminal(char c) { return c == '.' || c == '!' || c == '?'; }
bool is_closer(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Length of a "<br />" tag (case-insensitive, optional spaces and slash) at text[i], or 0.
size_t br_tag_length(std::string_view text, size_t i) {
  if (i + 3 > text.size() || text[i] != '<' || lower(text[i + 1]) != 'b' || lower(text[i + 2]) != 'r') return 0;
  size_t j = i + 3;
  while (j < text.size() && (text[j] == ' ' || text[j] == '/')) ++j;
  return j < text.size() && text[j] == '>' ? j + 1 - i : 0;
}

}  // namespace

std::vector<std::string> split_characters(std::string_view text) {
  std::vector<std::string> chars;
  for (const char c : text) {
    const bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
    if (continuation && !chars.empty())
      chars.back().push_back(c);
    else
      chars.emplace_back(1, c);
  }
  return chars;
}

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  std::string current;
  auto finish = [&] {
    const bool blank = std::all_of(current.begin(), current.end(), is_space);
    if (!blank) sentences.push_back(current);
    current.clear();
  };
  for (size_t i = 0; i < text.size();) {
    if (const size_t tag = br_tag_length(text, i); tag > 0) {
      finish();
      i += tag;
      continue;
    }
    const char c = text[i];
    if (c == '\n') {
      finish();
      ++i;
      continue;
    }
    if (is_terminal(c)) {
      size_t j = i;
      while (j < text.size() && is_terminal(text[j])) ++j;
      while (j < text.size() && is_closer(text[j])) ++j;
      current.append(text.substr(i, j - i));
      i = j;
      if (i == text.size() || is_space(text[i])) finish();
      continue;
    }
    current.push_back(c);
    ++i;
  }
  finish();
  return sentences;
}

std::vector<std::string> tokenize_words(std::string_view sentence) {
  std::vector<std::string> tokens;
  for (size_t i = 0; i < sentence.size();) {
    const char c = sentence[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (!is_word_byte(c)) {
      tokens.emplace_back(1, c);
      ++i;
      continue;
    }
    std::string word;
    while (i < sentence.size()) {
      if (is_word_byte(sentence[i])) {
        word.push_back(lower(sentence[i++]));
      } else if (sentence[i] == '\'' && i + 1 < sentence.size() && is_word_byte(sentence[i + 1])) {
        word.push_back(sentence[i++]);  // inner apostrophe: "don't"
      } else {
        break;
      }
    }
    tokens.push_back(std::move(word));
  }
  return tokens;
}

std::vector<std::vector<std::string>> tokenize_document(std::string_view text) {
  std::vector<std::vector<std::string>> document;
  for (const std::string& sentence : split_sentences(text)) {
    auto words = tokenize_words(sentence);
    if (!words.empty()) document.push_back(std::move(words));
  }
  return document;
}

Vocabulary::Vocabulary() : Vocabulary(std::vector<std::string>{"<pad>", "<unk>"}) {}

Vocabulary::Vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  ATTNSCALE_CHECK(words_.size() >= 2 && words_[kPad] == "<pad>" && words_[kUnk] == "<unk>", "vocabulary",
                  "the first two words must be <pad> and <unk> ({} words given)", words_.size());
  for (size_t i = 0; i < words_.size(); ++i) {
    const bool fresh = ids_.emplace(words_[i], static_cast<int64_t>(i)).second;
    ATTNSCALE_CHECK(fresh, "vocabulary", "word '{}' appears twice (ids {} and {})", words_[i], ids_[words_[i]], i);
  }
}

Vocabulary Vocabulary::build(const std::unordered_map<std::string, int64_t>& counts, int64_t max_size,
                             int64_t min_count) {
  std::vector<std::pair<std::string, int64_t>> kept;
  for (const auto& [word, count] : counts)
    if (count >= min_count && word != "<pad>" && word != "<unk>") kept.emplace_back(word, count);
  std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words{"<pad>", "<unk>"};
  for (const auto& [word, count] : kept) {
    if (max_size > 0 && static_cast<int64_t>(words.size()) >= max_size) break;
    words.push_back(word);
  }
  return Vocabulary(std::move(words));
}

int64_t Vocabulary::id(const std::string& word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? kUnk : it->second;
}

}  // namespace attnscale::data

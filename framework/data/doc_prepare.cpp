#include "framework/data/doc_prepare.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>
#include <unordered_map>

#include "base/error.h"
#include "framework/data/tokenizer.h"

namespace attnscale::data {
namespace {

struct Tokenised {
  std::vector<std::vector<std::string>> sentences;
  std::string label;
  int split = 0;  // Split, or -1 = to be drawn
};

int split_index(const std::string& name) {
  if (name.empty()) return -1;
  return name == "train" ? 0 : name == "validation" ? 1 : 2;
}

// A seeded Fisher-Yates shuffle on mt19937_64 (whose output the standard fixes), so the same seed
// gives the same split with any standard library.
void shuffle(std::vector<int64_t>& values, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[rng() % i]);
}

}  // namespace

std::string tokenisation_rules(TokenUnit unit) {
  if (unit == TokenUnit::character)
    return "one token per UTF-8 character of the text (case, whitespace and newlines kept), a document is one "
           "sequence; ids 0 <pad>, 1 <unk>, then by descending training-split count";
  return "sentences end at newlines, <br /> tags and runs of . ! ? (plus closing quotes/brackets) before "
         "whitespace; words are runs of ASCII letters/digits and bytes >= 0x80 with inner apostrophes, "
         "lower-cased; other non-space characters are single tokens; ids 0 <pad>, 1 <unk>, then by "
         "descending training-split count";
}

std::array<double, 3> parse_split_fractions(const std::string& text) {
  std::array<double, 3> f{};
  std::stringstream in(text);
  std::string part;
  int n = 0;
  while (std::getline(in, part, ',')) {
    ATTNSCALE_CHECK(n < 3, "prepare", "--split '{}' must have three fractions (train,validation,test)", text);
    size_t used = 0;
    try {
      f[n] = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ATTNSCALE_CHECK(used == part.size() && used > 0 && f[n] >= 0, "prepare",
                    "--split '{}': '{}' is not a non-negative number", text, part);
    ++n;
  }
  ATTNSCALE_CHECK(n == 3, "prepare", "--split '{}' must have three fractions (train,validation,test)", text);
  ATTNSCALE_CHECK(std::abs(f[0] + f[1] + f[2] - 1.0) < 1e-9, "prepare", "--split '{}' must add up to 1", text);
  return f;
}

std::string PrepareSummary::str() const {
  return fmt::format(
      "records {} (malformed {}, no tokens {}; blank lines {})\n"
      "documents {}: train {}, validation {}, test {}\n"
      "sentences {}, tokens {} ({} unknown, {:.2f}%)\n"
      "vocabulary {} ids, labels {}",
      records, malformed, empty_after_tokenising, blank_lines, documents, split_sizes[0], split_sizes[1],
      split_sizes[2], sentences, tokens, unknown_tokens,
      tokens > 0 ? 100.0 * static_cast<double>(unknown_tokens) / static_cast<double>(tokens) : 0.0, vocabulary,
      labels);
}

PrepareSummary prepare_documents(const PrepareOptions& options, DocCorpus* corpus_out) {
  ATTNSCALE_CHECK(!options.inputs.empty(), "prepare", "no --input file given");
  ATTNSCALE_CHECK(options.min_count >= 1, "prepare", "--min-count must be at least 1, got {}", options.min_count);
  ATTNSCALE_CHECK(options.vocab_size == 0 || options.vocab_size >= 3, "prepare",
                  "--vocab-size must be 0 (no limit) or at least 3, got {}", options.vocab_size);
  ReadResult read;
  for (const auto& input : options.inputs) read_documents(input, options.read, read);

  PrepareSummary summary;
  std::vector<Tokenised> docs;
  for (const RawDocument& raw : read.documents) {
    Tokenised t{options.unit == TokenUnit::character
                    ? std::vector<std::vector<std::string>>{split_characters(raw.text)}
                    : tokenize_document(raw.text),
                raw.label, split_index(raw.split)};
    if (!t.sentences.empty() && t.sentences[0].empty()) t.sentences.clear();
    if (t.sentences.empty()) {
      read.malformed.push_back({raw.source, "no token after tokenisation"});
      ++summary.empty_after_tokenising;
      continue;
    }
    docs.push_back(std::move(t));
  }
  summary.records = read.records;
  summary.blank_lines = read.blank_lines;
  summary.malformed = static_cast<int64_t>(read.malformed.size()) - summary.empty_after_tokenising;
  handle_malformed(read.malformed, options.on_error);
  if (docs.empty()) throw DataError("[prepare] no well-formed document in the input");

  // Splits: given, or drawn with the seed.
  const bool given = options.read.split_column.size() > 0;
  std::vector<int64_t> order(docs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  if (!given) {
    shuffle(order, options.seed);
    const auto n = static_cast<double>(docs.size());
    const auto n_val = static_cast<size_t>(std::floor(n * options.fractions[1]));
    const auto n_test = static_cast<size_t>(std::floor(n * options.fractions[2]));
    for (size_t k = 0; k < order.size(); ++k)
      docs[order[k]].split = k < n_val ? 1 : k < n_val + n_test ? 2 : 0;
  }

  std::unordered_map<std::string, int64_t> counts;
  std::map<std::string, int64_t> label_ids;
  for (const Tokenised& d : docs) {
    label_ids.emplace(d.label, 0);
    if (d.split != 0) continue;
    for (const auto& s : d.sentences)
      for (const auto& w : s) ++counts[w];
  }
  const Vocabulary vocab = Vocabulary::build(counts, options.vocab_size, options.min_count);

  DocCorpus corpus;
  corpus.vocabulary = vocab.words();
  corpus.unit = options.unit;
  for (auto& [name, id] : label_ids) {
    id = static_cast<int64_t>(corpus.label_names.size());
    corpus.label_names.push_back(name);
  }
  std::vector<std::vector<int64_t>> ids;
  for (const Tokenised& d : docs) {
    ids.assign(d.sentences.size(), {});
    for (size_t s = 0; s < d.sentences.size(); ++s)
      for (const auto& w : d.sentences[s]) {
        ids[s].push_back(vocab.id(w));
        summary.unknown_tokens += ids[s].back() == Vocabulary::kUnk;
      }
    corpus.splits[d.split].push_back(corpus.num_documents());
    corpus.add_document(ids, label_ids.at(d.label));
  }
  std::vector<std::string> input_names;
  for (const auto& p : options.inputs) input_names.push_back(p.string());
  corpus.source = fmt::format("inputs {}; unit {}, vocab_size {}, min_count {}, seed {}, split {}", fmt::join(input_names, " "),
                              token_unit_name(options.unit), options.vocab_size, options.min_count, options.seed,
                              given ? "given by column '" + options.read.split_column + "'"
                                    : fmt::format("{},{},{}", options.fractions[0], options.fractions[1],
                                                  options.fractions[2]));

  summary.documents = corpus.num_documents();
  summary.sentences = static_cast<int64_t>(corpus.sentence_offsets.size()) - 1;
  summary.tokens = static_cast<int64_t>(corpus.tokens.size());
  summary.vocabulary = vocab.size();
  summary.labels = static_cast<int64_t>(corpus.label_names.size());
  for (int s = 0; s < 3; ++s) summary.split_sizes[s] = static_cast<int64_t>(corpus.splits[s].size());
  if (!options.output.empty()) write_doc_corpus(options.output, corpus, tokenisation_rules(options.unit));
  if (corpus_out) *corpus_out = std::move(corpus);
  return summary;
}

}  // namespace attnscale::data

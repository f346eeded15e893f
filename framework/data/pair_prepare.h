// `attnscale prepare pairs`: two texts of the same verses (or any numbered segments) in two
// languages -> a pair corpus (pair_store.h) with SentencePiece vocabularies (subword.h).
//   PairPrepareOptions o; o.source = "web.txt"; o.target = "sparv.txt"; o.output = "web-sparv.h5";
//   PairPrepareSummary s = prepare_pairs(o);   // DataError (exit 3) naming file:line on bad input
//
// Input: one segment a line, "REFERENCE<TAB>TEXT" in UTF-8, REFERENCE = "BOOK C:V" (BOOK any text,
// C and V positive integers), as scripts/fetch-corpora.sh writes the Bible texts. A trailing CR is
// dropped and whitespace runs in TEXT become one space. A missing file, an empty line, a line
// without TAB or with empty text, a malformed or repeated reference, or bytes that are not UTF-8
// are a DataError naming file:line.
// Alignment: pairs are the references both files have, in the source file's order. References in
// one file only are refused (Unpaired::refuse, naming the first as file:line), left out
// (Unpaired::skip), or left out with every other pair of their chapter (Unpaired::skip_chapter:
// two translations that number a chapter's verses differently pair shifted verses around the gap).
// Split: by whole books, the validation and test books named, every other book training.
// SentencePiece models are trained on the training split only (source and target apart, or one
// model on both with shared_vocab).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/subword.h"

namespace attnscale::data {

enum class Unpaired { refuse, skip, skip_chapter };

// The split of the Bible corpora (experiments/translation/README.md): whole books of the Old and
// New Testament, prose and poetry, about 5% of the verses each.
std::vector<std::string> default_validation_books();
std::vector<std::string> default_test_books();

struct PairPrepareOptions {
  std::filesystem::path source, target, output;
  int64_t source_vocab = 8000, target_vocab = 8000;  // SentencePiece pieces, the four special ones included
  bool shared_vocab = false;  // one model trained on both sides (its size: source_vocab)
  SubwordAlgorithm algorithm = SubwordAlgorithm::unigram;
  uint64_t seed = 1234;
  std::vector<std::string> validation_books = default_validation_books();
  std::vector<std::string> test_books = default_test_books();
  Unpaired unpaired = Unpaired::refuse;
};

struct PairPrepareSummary {
  std::array<int64_t, 2> verses{};            // lines read per side
  std::array<int64_t, 2> unpaired{};          // references only this side has
  int64_t chapters_left_out = 0, pairs_left_out_with_chapters = 0;
  std::array<int64_t, 3> pairs{}, books{};    // per split
  std::array<int64_t, 2> vocabulary{};        // pieces per side
  std::array<std::array<int64_t, 3>, 2> tokens{}, unknown{}, longest{};  // [side][split]
  std::string str() const;
};

PairPrepareSummary prepare_pairs(const PairPrepareOptions& options);

// Splits "Mark,Ruth,I Peter" at commas (surrounding spaces trimmed); "" gives none.
std::vector<std::string> parse_book_list(const std::string& text);

}  // namespace attnscale::data

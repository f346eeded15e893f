#include "framework/data/pair_prepare.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "base/error.h"
#include "base/logging.h"
#include "base/text.h"
#include "framework/data/corpus.h"
#include "framework/data/pair_store.h"

namespace attnscale::data {
namespace {

struct Verse {
  std::string reference, book, chapter;  // chapter = "BOOK C", the unit skip_chapter leaves out
  std::string text;
  int64_t line = 0;
};

[[noreturn]] void bad_line(const std::filesystem::path& file, int64_t line, const std::string& problem) {
  throw DataError(fmt::format("[pairs] {}:{}: {}", file.string(), line, problem));
}

bool positive_integer(std::string_view s) {
  return !s.empty() && s.size() <= 9 && s.front() != '0' &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string collapse_whitespace(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space)
      out.push_back(c);
    else if (!out.empty() && out.back() != ' ')
      out.push_back(' ');
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// One side's file, every rule of pair_prepare.h checked.
std::vector<Verse> read_verses(const std::filesystem::path& file, const char* side) {
  if (!std::filesystem::is_regular_file(file))
    throw DataError(fmt::format("[pairs] the {} file '{}' does not exist", side, file.string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw DataError(fmt::format("[pairs] cannot open the {} file '{}'", side, file.string()));
  skip_byte_order_mark(in);
  std::vector<Verse> verses;
  std::unordered_map<std::string, int64_t> seen;  // reference -> line
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto problem = utf8_problem(line, "the line")) bad_line(file, line_no, *problem);
    if (collapse_whitespace(line).empty()) bad_line(file, line_no, "empty line");
    const size_t tab = line.find('\t');
    if (tab == std::string::npos)
      bad_line(file, line_no, fmt::format("no TAB between reference and text in '{}'", excerpt(line)));
    Verse v;
    v.reference = line.substr(0, tab);
    v.text = collapse_whitespace(std::string_view(line).substr(tab + 1));
    v.line = line_no;
    const size_t space = v.reference.rfind(' '), colon = v.reference.rfind(':');
    if (space == std::string::npos || space == 0 || colon == std::string::npos || colon < space ||
        !positive_integer(std::string_view(v.reference).substr(space + 1, colon - space - 1)) ||
        !positive_integer(std::string_view(v.reference).substr(colon + 1)))
      bad_line(file, line_no, fmt::format("reference '{}' is not BOOK CHAPTER:VERSE", excerpt(v.reference)));
    v.book = v.reference.substr(0, space);
    v.chapter = v.reference.substr(0, colon);
    if (v.text.empty()) bad_line(file, line_no, fmt::format("'{}' has no text", v.reference));
    if (const auto [it, fresh] = seen.emplace(v.reference, line_no); !fresh)
      bad_line(file, line_no, fmt::format("reference '{}' repeats line {}", v.reference, it->second));
    verses.push_back(std::move(v));
  }
  if (in.bad()) throw DataError(fmt::format("[pairs] reading '{}' failed", file.string()));
  if (verses.empty()) throw DataError(fmt::format("[pairs] the {} file '{}' holds no line", side, file.string()));
  return verses;
}

std::string join_books(const std::vector<std::string>& books) { return fmt::format("{}", fmt::join(books, ",")); }

}  // namespace

std::vector<std::string> default_validation_books() {
  return {"Ecclesiastes", "Joel",        "Micah",      "Nahum", "Habakkuk", "Zephaniah",
          "Galatians",    "Philippians", "Colossians", "Titus", "I Peter"};
}

std::vector<std::string> default_test_books() {
  return {"Ruth", "Esther", "Lamentations", "Jonah", "Mark", "Hebrews", "James"};
}

std::vector<std::string> parse_book_list(const std::string& text) {
  std::vector<std::string> books;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string book = collapse_whitespace(std::string_view(text).substr(begin, end - begin));
    if (!book.empty()) books.push_back(book);
    begin = end + 1;
  }
  return books;
}

std::string PairPrepareSummary::str() const {
  std::string text = fmt::format(
      "verses: source {}, target {}; references in one file only: source {}, target {}\n"
      "chapters left out for unpaired references: {} (with {} pairs)\n"
      "pairs {}: train {} ({} books), validation {} ({} books), test {} ({} books)",
      verses[0], verses[1], unpaired[0], unpaired[1], chapters_left_out, pairs_left_out_with_chapters,
      pairs[0] + pairs[1] + pairs[2], pairs[0], books[0], pairs[1], books[1], pairs[2], books[2]);
  for (int s = 0; s < 2; ++s)
    text += fmt::format(
        "\n{} vocabulary {} pieces; tokens train {} (mean {:.1f}, longest {}), validation {} (longest {}, {} <unk>), "
        "test {} (longest {}, {} <unk>)",
        pair_side_name(static_cast<PairSide>(s)), vocabulary[s], tokens[s][0],
        pairs[0] ? static_cast<double>(tokens[s][0]) / static_cast<double>(pairs[0]) : 0.0, longest[s][0],
        tokens[s][1], longest[s][1], unknown[s][1], tokens[s][2], longest[s][2], unknown[s][2]);
  return text;
}

PairPrepareSummary prepare_pairs(const PairPrepareOptions& options) {
  ATTNSCALE_CHECK(!options.output.empty(), "pairs", "no --output file given");
  const std::array<std::vector<Verse>, 2> sides{read_verses(options.source, "source"),
                                                read_verses(options.target, "target")};
  const std::array<std::filesystem::path, 2> files{options.source, options.target};
  PairPrepareSummary summary;
  // Alignment by reference.
  std::array<std::unordered_map<std::string, size_t>, 2> index;
  for (int s = 0; s < 2; ++s) {
    summary.verses[s] = static_cast<int64_t>(sides[s].size());
    for (size_t i = 0; i < sides[s].size(); ++i) index[s].emplace(sides[s][i].reference, i);
  }
  std::set<std::string> broken_chapters;
  std::vector<const Verse*> unpaired;  // source side first, each in file order
  std::array<size_t, 2> first_unpaired{};
  for (int s = 0; s < 2; ++s) {
    first_unpaired[s] = unpaired.size();
    for (const Verse& v : sides[s])
      if (!index[1 - s].contains(v.reference)) {
        ++summary.unpaired[s];
        broken_chapters.insert(v.chapter);
        unpaired.push_back(&v);
      }
  }
  if (!unpaired.empty() && options.unpaired == Unpaired::refuse) {
    const int s = summary.unpaired[0] > 0 ? 0 : 1;
    const Verse& v = *unpaired[first_unpaired[s]];
    bad_line(files[s], v.line,
             fmt::format("reference '{}' has no line in {} ({} references of the source and {} of the target are in "
                         "one file only; --unpaired skip or skip-chapter leaves them out)",
                         v.reference, files[1 - s].string(), summary.unpaired[0], summary.unpaired[1]));
  }
  std::vector<std::string> unpaired_examples;
  for (size_t i = 0; i < std::min<size_t>(unpaired.size(), 8); ++i) unpaired_examples.push_back(unpaired[i]->reference);
  struct Aligned {
    const Verse* source;
    const Verse* target;
  };
  std::vector<Aligned> aligned;
  std::set<std::string> books_seen;
  for (const Verse& v : sides[0]) {
    const auto it = index[1].find(v.reference);
    if (it == index[1].end()) continue;
    if (options.unpaired == Unpaired::skip_chapter && broken_chapters.contains(v.chapter)) {
      ++summary.pairs_left_out_with_chapters;
      continue;
    }
    aligned.push_back({&v, &sides[1][it->second]});
    books_seen.insert(v.book);
  }
  if (options.unpaired == Unpaired::skip_chapter) summary.chapters_left_out = static_cast<int64_t>(broken_chapters.size());
  if (!unpaired_examples.empty())
    LOG_WARN("[pairs] references in one file only, left out{}: {} from {}, {} from {} (first: {})",
             options.unpaired == Unpaired::skip_chapter ? " with their chapters" : "", summary.unpaired[0],
             files[0].string(), summary.unpaired[1], files[1].string(), fmt::join(unpaired_examples, ", "));
  if (aligned.empty())
    throw DataError(fmt::format("[pairs] {} and {} have no reference in common", files[0].string(), files[1].string()));

  // Split by book.
  std::map<std::string, int> book_split;
  for (const auto& [list, split, flag] : {std::tuple(&options.validation_books, 1, "--validation-books"),
                                          std::tuple(&options.test_books, 2, "--test-books")})
    for (const std::string& book : *list) {
      ATTNSCALE_CHECK(books_seen.contains(book), "pairs", "{}: '{}' is not a book of the aligned pairs (books: {})",
                      flag, book, fmt::join(books_seen, ", "));
      ATTNSCALE_CHECK(!book_split.contains(book), "pairs", "'{}' is named twice in --validation-books / --test-books",
                      book);
      book_split[book] = split;
    }
  std::array<std::set<std::string>, 3> split_books;
  std::vector<int> split_of(aligned.size());
  for (size_t i = 0; i < aligned.size(); ++i) {
    const auto it = book_split.find(aligned[i].source->book);
    split_of[i] = it == book_split.end() ? 0 : it->second;
    split_books[split_of[i]].insert(aligned[i].source->book);
  }
  ATTNSCALE_CHECK(!split_books[0].empty(), "pairs", "every book is a validation or test book: nothing left to train on");

  // Subword models from the training split only.
  std::array<std::vector<std::string>, 2> training;
  for (size_t i = 0; i < aligned.size(); ++i)
    if (split_of[i] == 0) {
      training[0].push_back(aligned[i].source->text);
      training[1].push_back(aligned[i].target->text);
    }
  PairCorpus corpus;
  if (options.shared_vocab) {
    std::vector<std::string> both = training[0];
    both.insert(both.end(), training[1].begin(), training[1].end());
    corpus.models[0] = corpus.models[1] =
        train_subword_model(both, {options.source_vocab, options.algorithm, options.seed});
  } else {
    corpus.models[0] = train_subword_model(training[0], {options.source_vocab, options.algorithm, options.seed});
    corpus.models[1] = train_subword_model(training[1], {options.target_vocab, options.algorithm, options.seed});
  }
  const std::array<SubwordModel, 2> models{SubwordModel(corpus.models[0]), SubwordModel(corpus.models[1])};
  for (int s = 0; s < 2; ++s) summary.vocabulary[s] = models[s].vocab_size();

  for (size_t i = 0; i < aligned.size(); ++i) {
    const int split = split_of[i];
    std::array<std::vector<int32_t>, 2> ids{models[0].encode(aligned[i].source->text),
                                            models[1].encode(aligned[i].target->text)};
    for (int s = 0; s < 2; ++s) {
      summary.tokens[s][split] += static_cast<int64_t>(ids[s].size());
      summary.longest[s][split] = std::max(summary.longest[s][split], static_cast<int64_t>(ids[s].size()));
      summary.unknown[s][split] += std::count(ids[s].begin(), ids[s].end(), kSubwordUnk);
    }
    corpus.splits[split].push_back(corpus.size());
    corpus.add_pair(aligned[i].source->reference, std::move(ids), {aligned[i].source->text, aligned[i].target->text});
  }
  for (int s = 0; s < 3; ++s) {
    summary.pairs[s] = static_cast<int64_t>(corpus.splits[s].size());
    summary.books[s] = static_cast<int64_t>(split_books[s].size());
  }
  corpus.validation_books = join_books(options.validation_books);
  corpus.test_books = join_books(options.test_books);
  corpus.source = fmt::format(
      "source {}, target {}; subword {} (SentencePiece), vocab {} / {}{}, seed {}; unpaired {}; validation books "
      "{}; test books {}",
      options.source.string(), options.target.string(), subword_algorithm_name(options.algorithm),
      options.source_vocab, options.target_vocab, options.shared_vocab ? " (shared)" : "", options.seed,
      options.unpaired == Unpaired::refuse ? "refuse" : options.unpaired == Unpaired::skip ? "skip" : "skip-chapter",
      corpus.validation_books, corpus.test_books);
  write_pair_corpus(options.output, corpus);
  return summary;
}

}  // namespace attnscale::data

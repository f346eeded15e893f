// `attnscale prepare docs`: raw documents (corpus.h) -> tokenised corpus (doc_store.h).
//   PrepareOptions o; o.inputs = {"reviews.csv"}; o.output = "reviews.h5";
//   PrepareSummary s = prepare_documents(o);   // DataError (exit 3) when refused
// The vocabulary is counted on the training split only, so validation and test words the training
// documents never use become <unk> (no leakage). Labels are numbered in sorted order of their names.
// Splits: with a split column the given splits are kept; otherwise documents are shuffled with
// `seed` and cut into train/validation/test by `fractions` (rounded down; the rest goes to train).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/data/corpus.h"
#include "framework/data/doc_store.h"

namespace attnscale::data {

struct PrepareOptions {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path output;
  ReadOptions read;
  TokenUnit unit = TokenUnit::word;  // character: a document is one sequence of its UTF-8 characters
  int64_t vocab_size = 30000;  // ids in all, the two special tokens included; 0 = no limit
  int64_t min_count = 1;
  uint64_t seed = 1234;
  std::array<double, 3> fractions{0.8, 0.1, 0.1};
  OnError on_error = OnError::refuse;
};

struct PrepareSummary {
  int64_t records = 0, blank_lines = 0, malformed = 0, empty_after_tokenising = 0, documents = 0;
  int64_t sentences = 0, tokens = 0, unknown_tokens = 0, vocabulary = 0, labels = 0;
  std::array<int64_t, 3> split_sizes{};
  std::string str() const;  // one line per figure, for the command's report
};

// Reads, tokenises, builds the vocabulary and splits, and (when output is non-empty) writes the
// HDF5 file. Malformed records are handled per on_error (corpus.h); a document with no token after
// tokenisation counts as malformed.
PrepareSummary prepare_documents(const PrepareOptions& options, DocCorpus* corpus_out = nullptr);

// Parses "0.8,0.1,0.1" (three non-negative numbers adding up to 1). UsageError otherwise.
std::array<double, 3> parse_split_fractions(const std::string& text);

// The tokenisation rules of a unit, as stored in the file's "rules" attribute.
std::string tokenisation_rules(TokenUnit unit = TokenUnit::word);

}  // namespace attnscale::data

// A prepared parallel corpus (`attnscale prepare pairs`): sentence pairs as SentencePiece token
// ids, with the subword models themselves, the texts, the pairs' references and a split. Written
// whole by the preparation; read lazily by PairStore, which keeps only the per-pair offsets in
// memory and reads the token ids (or texts) of the pairs a batch asks for.
//
// File layout (format "attnscale-pairs", version 1); <side> is source or target:
//   <side>/model/{offsets,bytes}  one string: the side's SentencePiece ModelProto, serialized
//   <side>/tokens                 int32 [T]    every pair's token ids back to back (no bos/eos)
//   <side>/offsets                int64 [N+1]  pair i is tokens[offsets[i] : offsets[i+1]] (>= 1 token)
//   <side>/lengths                int32 [N]    offsets[i+1] - offsets[i]
//   <side>/text/{offsets,bytes}   the N texts as read (whitespace runs made one space): the references
//                                 a translation is scored against
//   references/{offsets,bytes}    the N pair references ("Genesis 1:1")
//   splits/{train,validation,test} int64 pair ids of each split (ascending, disjoint)
//   attributes on "/": format, version, source (the inputs and options it was made from),
//                      validation_books, test_books (comma-separated)
// Pairs are in the source file's order. Token ids follow subword.h (0 pad, 1 bos, 2 eos, 3 unk).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framework/data/doc_store.h"
#include "framework/data/subword.h"
#include "framework/io/hdf5.h"

namespace attnscale::data {

enum class PairSide { source = 0, target = 1 };
const char* pair_side_name(PairSide side);  // "source", "target"

// The whole corpus in memory, as the preparation builds it.
struct PairCorpus {
  std::array<std::string, 2> models;  // serialized SentencePiece ModelProto per side
  std::array<std::vector<int32_t>, 2> tokens;
  std::array<std::vector<int64_t>, 2> offsets{std::vector<int64_t>{0}, std::vector<int64_t>{0}};
  std::array<std::vector<std::string>, 2> texts;
  std::vector<std::string> references;
  std::array<std::vector<int64_t>, 3> splits;  // indexed by Split
  std::string source;                          // how it was made
  std::string validation_books, test_books;

  int64_t size() const { return static_cast<int64_t>(references.size()); }
  void add_pair(std::string reference, std::array<std::vector<int32_t>, 2> ids, std::array<std::string, 2> texts);
};

void write_pair_corpus(const std::filesystem::path& path, const PairCorpus& corpus);

// Reads a pair corpus a batch at a time. Opening checks the layout (every offset, length and split
// id) and loads both subword models; token ids are checked against the vocabulary as they are
// read. DataError naming the file, the dataset and the index of the first inconsistency.
// Memory: the offsets of the ids, texts and references (40 bytes a pair) plus HDF5's chunk
// cache, at most kChunkCacheBytes per dataset read a batch at a time.
class PairStore {
 public:
  static constexpr size_t kChunkCacheBytes = size_t{16} << 20;

  explicit PairStore(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  int64_t size() const { return static_cast<int64_t>(offsets_[0].size()) - 1; }
  const std::vector<int64_t>& split(Split split) const { return splits_[static_cast<int>(split)]; }
  int64_t length(PairSide side, int64_t pair) const {
    const auto& o = offsets_[static_cast<int>(side)];
    return o[pair + 1] - o[pair];
  }
  const SubwordModel& model(PairSide side) const { return *models_[static_cast<int>(side)]; }
  const std::string& validation_books() const { return validation_books_; }
  const std::string& test_books() const { return test_books_; }

  // The token ids of `pairs` (any order, repeats allowed), one vector per pair, in one HDF5 read.
  std::vector<std::vector<int32_t>> tokens(PairSide side, std::span<const int64_t> pairs) const;
  // Their texts (the references a translation is scored against) and their pair references.
  std::vector<std::string> texts(PairSide side, std::span<const int64_t> pairs) const;
  std::vector<std::string> references(std::span<const int64_t> pairs) const;

 private:
  std::filesystem::path path_;
  h5::File file_;
  std::array<std::vector<int64_t>, 2> offsets_, text_offsets_;
  std::vector<int64_t> reference_offsets_;
  std::array<h5::Handle, 2> token_data_, text_data_;
  h5::Handle reference_data_;
  std::array<std::vector<int64_t>, 3> splits_;
  std::array<std::unique_ptr<SubwordModel>, 2> models_;
  std::string validation_books_, test_books_;
};

}  // namespace attnscale::data

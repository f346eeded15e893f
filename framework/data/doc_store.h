// A prepared document corpus: token ids as ragged arrays, labels and splits, in memory and as an
// HDF5 file that h5py reads directly. File layout (format "attnscale-docs", version 1):
//   tokens              int64 [T]    every token id, documents and sentences back to back
//   sentence_offsets    int64 [S+1]  sentence s is tokens[sentence_offsets[s] : sentence_offsets[s+1]]
//   document_offsets    int64 [D+1]  document d is sentences [document_offsets[d], document_offsets[d+1])
//   labels              int64 [D]    label id of each document
//   splits/{train,validation,test}   int64  document ids of each split (ascending)
//   vocabulary/{offsets,bytes}       word i = bytes[offsets[i] : offsets[i+1]] (UTF-8); 0 <pad>, 1 <unk>
//   label_names/{offsets,bytes}      label name i, the same way
//   attributes on "/": format, version, rules (the tokenisation rules), source (how it was made),
//                      unit ("word" or "char"; absent in files written before it = "word")
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace attnscale::h5 {
class File;
}

namespace attnscale::data {

enum class Split { train = 0, validation = 1, test = 2 };
const char* split_name(Split split);

// What a token is: a word of the tokeniser (tokenizer.h), or one UTF-8 character of the raw text
// (case and whitespace kept; a document is then one "sentence", its characters in order).
enum class TokenUnit { word, character };
const char* token_unit_name(TokenUnit unit);  // "word", "char"

struct DocCorpus {
  std::vector<std::string> vocabulary;
  std::vector<std::string> label_names;
  std::vector<int64_t> tokens;
  std::vector<int64_t> sentence_offsets{0};
  std::vector<int64_t> document_offsets{0};
  std::vector<int64_t> labels;
  std::array<std::vector<int64_t>, 3> splits;  // indexed by Split
  std::string source;  // free text: the inputs and options it was prepared from
  TokenUnit unit = TokenUnit::word;

  int64_t num_documents() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_sentences(int64_t doc) const { return document_offsets[doc + 1] - document_offsets[doc]; }
  int64_t sentence_length(int64_t sentence) const {
    return sentence_offsets[sentence + 1] - sentence_offsets[sentence];
  }
  std::span<const int64_t> sentence(int64_t s) const {
    return std::span<const int64_t>(tokens).subspan(sentence_offsets[s], sentence_length(s));
  }
  const std::vector<int64_t>& split(Split s) const { return splits[static_cast<int>(s)]; }

  // Appends a document of sentences of token ids (each sentence non-empty, at least one sentence).
  void add_document(const std::vector<std::vector<int64_t>>& sentences, int64_t label);
  // Checks every offset, id and split index; DataError naming `where` and the first inconsistency.
  void validate(const std::string& where) const;
};

// Writes (truncating) and reads the HDF5 form. Reading validates the file (DataError naming it).
void write_doc_corpus(const std::filesystem::path& path, const DocCorpus& corpus, const std::string& rules);
DocCorpus read_doc_corpus(const std::filesystem::path& path);
// Whether `path` is an existing HDF5 file whose format attribute says it is a document corpus.
bool is_doc_corpus(const std::filesystem::path& path);

// Strings as one UTF-8 byte array plus offsets (ragged, like the tokens): `group`/bytes and
// `group`/offsets. Reading checks that the offsets cover the bytes (DataError naming the file).
void write_strings(h5::File& file, const std::string& group, const std::vector<std::string>& strings);
std::vector<std::string> read_strings(const h5::File& file, const std::string& group);

}  // namespace attnscale::data

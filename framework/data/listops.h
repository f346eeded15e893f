// ListOps (Nangia & Bowman 2018) as the Long Range Arena generates it (Tay et al. 2020): nested
// prefix expressions of MAX, MIN, MED (median, rounded down) and SM (sum modulo 10) over the digits
// 0-9; the label is the expression's value. A node at depth d < max_depth is an operator with
// probability value_p (2 to max_args arguments, each a node at depth d + 1), otherwise a digit; at
// max_depth it is a digit. The root has depth 1. Expressions outside [min_length, max_length]
// tokens are drawn again. Tokens are the operators, the digits and "]"; unlike the LRA files there
// are no "(" ")" tokens (they repeat what the brackets say), so lengths count only these tokens.
//
// Example i of a split draws from its own counter stream (seed, split, i), so a split does not
// change when another split's size does, and the test set is the same whatever --train is.
//
// File layout (format "attnscale-listops", version 1), one group per split (train, validation, test):
//   <split>/tokens   int64 [T]    the token ids of every example, back to back
//   <split>/offsets  int64 [E+1]  example e is tokens[offsets[e] : offsets[e+1]]
//   <split>/labels   int64 [E]    the value 0-9 of example e
//   attributes on "/": format, version, vocabulary (the token of id i is word i, space separated),
//   rules, seed, max_depth, max_args, value_p, min_length, max_length
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "framework/data/doc_store.h"
#include "framework/data/synthetic.h"

namespace attnscale::data {

// Token ids: 0 <pad>, 1..10 the digits 0..9, then the operators and the closing bracket.
enum ListOpsToken : int64_t { kListOpsPad = 0, kListOpsDigit0 = 1, kListOpsMin = 11, kListOpsMax = 12,
                              kListOpsMed = 13, kListOpsSumMod = 14, kListOpsClose = 15 };
inline constexpr int64_t kListOpsVocabSize = 16;
inline constexpr int64_t kListOpsClasses = 10;
const std::vector<std::string>& listops_vocabulary();  // word of each token id

struct ListOpsOptions {
  std::array<int64_t, 3> sizes = {96000, 2000, 2000};  // train, validation, test (the LRA sizes)
  int64_t max_depth = 10;
  int64_t max_args = 10;
  double value_p = 0.25;  // probability that a node above max_depth is an operator
  int64_t min_length = 500;
  int64_t max_length = 2000;
  uint64_t seed = 1;
  // Checks the ranges; ConfigError naming the option (exit 2).
  void validate() const;
};

struct ListOpsSplit {
  std::vector<int64_t> tokens;
  std::vector<int64_t> offsets{0};
  std::vector<int64_t> labels;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  std::span<const int64_t> example(int64_t e) const {
    return std::span<const int64_t>(tokens).subspan(offsets[e], offsets[e + 1] - offsets[e]);
  }
  int64_t longest() const;
};

struct ListOpsData {
  ListOpsOptions options;
  std::array<ListOpsSplit, 3> splits;  // indexed by Split
  const ListOpsSplit& split(Split s) const { return splits[static_cast<int>(s)]; }
};

// Example `index` of `split` (its tokens) and its value.
struct ListOpsExample {
  std::vector<int64_t> tokens;
  int64_t label = 0;
};
ListOpsExample generate_listops_example(const ListOpsOptions& options, Split split, int64_t index);
ListOpsData generate_listops(const ListOpsOptions& options);

void write_listops(const std::filesystem::path& path, const ListOpsData& data);
// Validates every offset, token id and label; DataError naming the file and the first problem.
ListOpsData read_listops(const std::filesystem::path& path);

// Sequence classification batches for the decoder: each row holds one example (pack = false) or
// consecutive examples back to back (pack = true), right-padded with <pad>; the target of an
// example's last token is its label's digit token and every other target is kIgnoreIndex, so a
// causal model answers after reading the whole expression and padding never reaches a scored token.
class ListOpsBatches {
 public:
  ListOpsBatches(ListOpsData data, int64_t seq_len, int64_t batch_size, bool pack);
  // Training batch `index`: rows draw the train split in order, wrapping around (epochs).
  TokenBatch train_batch(int64_t index) const;
  // Batch `index` of `split`, in order; rows past the split's end are padding with nothing scored.
  TokenBatch eval_batch(Split split, int64_t index) const;
  const ListOpsData& data() const { return data_; }

 private:
  TokenBatch rows(const ListOpsSplit& split, int64_t first_row, bool wrap) const;

  ListOpsData data_;
  int64_t seq_len_, batch_size_;
  bool pack_;
  int64_t examples_per_row_ = 1;  // pack: rows start this many examples apart
};

}  // namespace attnscale::data

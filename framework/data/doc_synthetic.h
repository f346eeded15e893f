// A synthetic document-classification task whose label is decided by one sentence, so that
// sentence-level attention matters (configs/mechanisms/hierarchical.yaml). Ids: 0 <pad>, 1 <unk>,
// 2 the trigger word, 3 .. 3+C-1 the class words, the rest filler words. Every sentence holds
// filler words and one class word at a random position (a random class); exactly one sentence of
// each document also holds the trigger word, and the document's label is that sentence's class.
// Averaging the sentences mixes in the distractors' classes; attending to the trigger sentence
// reads the label off.
#pragma once

#include <cstdint>

#include "framework/data/doc_store.h"

namespace attnscale::data {

struct SyntheticDocSpec {
  int64_t vocab_size = 64;  // at least 3 + num_classes + 4 (some filler words)
  int64_t num_classes = 4;
  int64_t train_docs = 2000, eval_docs = 256;  // eval_docs each for validation and test
  int64_t min_sentences = 3, max_sentences = 8;
  int64_t min_words = 3, max_words = 8;  // per sentence, the class (and trigger) word included
  uint64_t seed = 1234;
};

inline constexpr int64_t kTriggerWord = 2, kFirstClassWord = 3;

// Documents 0 .. train_docs-1 are the training split, then validation, then test. A pure function of
// the spec (UsageError naming the field for an impossible spec).
DocCorpus make_synthetic_documents(const SyntheticDocSpec& spec);

}  // namespace attnscale::data

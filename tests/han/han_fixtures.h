// What the HAN tests share: a small synthetic document corpus (40 training and 8 + 8 held-out
// documents of 1-5 sentences of 2-6 words, 3 classes), a batch of its documents with padding, and
// a tiny model for gradchecks.
#pragma once

#include <cstdint>
#include <vector>

#include "framework/data/doc_synthetic.h"
#include "framework/models/han.h"

namespace attnscale::test {

inline data::SyntheticDocSpec small_doc_spec() {
  data::SyntheticDocSpec s;
  s.vocab_size = 20;
  s.num_classes = 3;
  s.train_docs = 40;
  s.eval_docs = 8;
  s.min_sentences = 1;
  s.max_sentences = 5;
  s.min_words = 2;
  s.max_words = 6;
  s.seed = 11;
  return s;
}

// Three training documents: one with the fewest sentences, one with the most, and another, so that
// a batch of them has padding slots.
inline std::vector<int64_t> uneven_documents(const data::DocCorpus& c) {
  int64_t shortest = 0, longest = 0;
  for (int64_t d = 1; d < 40; ++d) {
    if (c.num_sentences(d) < c.num_sentences(shortest)) shortest = d;
    if (c.num_sentences(d) > c.num_sentences(longest)) longest = d;
  }
  int64_t middle = 0;
  while (middle == shortest || middle == longest) ++middle;
  return {shortest, longest, middle};
}

// Sentence vectors of 4 (GRU hidden 2 per direction); the transformer encoder has 2 layers of 2
// heads.
inline models::HANOptions tiny_han_options(attention::PoolingKind pooling, models::SentenceEncoderKind encoder) {
  models::HANOptions o;
  o.vocab_size = 20;
  o.num_classes = 3;
  o.embed_dim = 3;
  o.hidden_size = 2;
  o.attn_dim = 3;
  o.pooling = pooling;
  o.sentence_encoder = encoder;
  o.sentence_heads = 2;
  o.sentence_layers = 2;
  return o;
}

}  // namespace attnscale::test

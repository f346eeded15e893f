// The small synthetic document corpus the HAN tests share: 40 training and 8 + 8 held-out
// documents of 1-5 sentences of 2-6 words, 3 classes.
#pragma once

#include "framework/data/doc_synthetic.h"

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

}  // namespace attnscale::test

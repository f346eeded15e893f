#include "framework/data/doc_synthetic.h"

#include <random>
#include <string>

#include "base/error.h"

namespace attnscale::data {
namespace {

// Uniform integer in [low, high] from mt19937_64 (whose output the standard fixes; the library's
// distributions are not, so they would make the task differ between standard libraries).
int64_t uniform(std::mt19937_64& rng, int64_t low, int64_t high) {
  return low + static_cast<int64_t>(rng() % static_cast<uint64_t>(high - low + 1));
}

}  // namespace

DocCorpus make_synthetic_documents(const SyntheticDocSpec& s) {
  ATTNSCALE_CHECK(s.num_classes >= 2, "synthetic_docs", "num_classes must be at least 2, got {}", s.num_classes);
  ATTNSCALE_CHECK(s.vocab_size >= kFirstClassWord + s.num_classes + 4, "synthetic_docs",
                  "vocab_size ({}) must be at least 3 + num_classes ({}) + 4 filler words", s.vocab_size,
                  s.num_classes);
  ATTNSCALE_CHECK(1 <= s.min_sentences && s.min_sentences <= s.max_sentences, "synthetic_docs",
                  "need 1 <= min_sentences ({}) <= max_sentences ({})", s.min_sentences, s.max_sentences);
  ATTNSCALE_CHECK(2 <= s.min_words && s.min_words <= s.max_words, "synthetic_docs",
                  "need 2 <= min_words ({}) <= max_words ({}): a sentence holds a class word and the trigger",
                  s.min_words, s.max_words);
  DocCorpus corpus;
  corpus.vocabulary = {"<pad>", "<unk>", "<trigger>"};
  for (int64_t c = 0; c < s.num_classes; ++c) {
    corpus.vocabulary.push_back("<class" + std::to_string(c) + ">");
    corpus.label_names.push_back("class" + std::to_string(c));
  }
  const int64_t first_filler = kFirstClassWord + s.num_classes;
  for (int64_t w = first_filler; w < s.vocab_size; ++w) corpus.vocabulary.push_back("w" + std::to_string(w));
  corpus.source = "synthetic documents (framework/data/doc_synthetic.h)";

  std::mt19937_64 rng(s.seed);
  const int64_t total = s.train_docs + 2 * s.eval_docs;
  std::vector<std::vector<int64_t>> sentences;
  for (int64_t d = 0; d < total; ++d) {
    sentences.assign(static_cast<size_t>(uniform(rng, s.min_sentences, s.max_sentences)), {});
    const auto trigger_sentence = static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(sentences.size()) - 1));
    int64_t label = 0;
    for (size_t i = 0; i < sentences.size(); ++i) {
      auto& words = sentences[i];
      words.resize(static_cast<size_t>(uniform(rng, s.min_words, s.max_words)));
      for (auto& w : words) w = uniform(rng, first_filler, s.vocab_size - 1);
      const int64_t cls = uniform(rng, 0, s.num_classes - 1);
      const auto class_pos = static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(words.size()) - 1));
      words[class_pos] = kFirstClassWord + cls;
      if (i == trigger_sentence) {
        label = cls;
        auto trigger_pos = static_cast<size_t>(uniform(rng, 0, static_cast<int64_t>(words.size()) - 2));
        if (trigger_pos >= class_pos) ++trigger_pos;  // any position but the class word's
        words[trigger_pos] = kTriggerWord;
      }
    }
    const int split = d < s.train_docs ? 0 : d < s.train_docs + s.eval_docs ? 1 : 2;
    corpus.splits[split].push_back(corpus.num_documents());
    corpus.add_document(sentences, label);
  }
  return corpus;
}

}  // namespace attnscale::data

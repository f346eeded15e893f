#include "framework/data/doc_batches.h"

#include <algorithm>

#include "base/error.h"

namespace attnscale::data {
namespace {

int64_t kept_sentences(const DocCorpus& c, int64_t doc, const DocBatchSpec& spec) {
  const int64_t n = c.num_sentences(doc);
  return spec.max_sentences > 0 ? std::min(n, spec.max_sentences) : n;
}

int64_t kept_words(const DocCorpus& c, int64_t sentence, const DocBatchSpec& spec) {
  const int64_t n = c.sentence_length(sentence);
  return spec.max_words > 0 ? std::min(n, spec.max_words) : n;
}

}  // namespace

namespace {

const std::vector<int64_t>& nonempty_split(const DocCorpus& corpus, Split split) {
  if (corpus.split(split).empty())
    throw DataError(fmt::format("[doc_batches] the {} split has no document", split_name(split)));
  return corpus.split(split);
}

}  // namespace

DocBatcher::DocBatcher(const DocCorpus& corpus, Split split, const DocBatchSpec& spec)
    : buckets_(nonempty_split(corpus, split), spec.batch_size, spec.bucket_batches, spec.seed,
               [&corpus](int64_t d) {
                 return std::pair(corpus.num_sentences(d), corpus.sentence_offsets[corpus.document_offsets[d + 1]] -
                                                               corpus.sentence_offsets[corpus.document_offsets[d]]);
               },
               "doc_batches") {}

DocBatch make_doc_batch(const DocCorpus& corpus, std::span<const int64_t> docs, const DocBatchSpec& spec,
                        int dp_rank, int dp_size, int cp_rank, int cp_size, DType dtype) {
  const auto total = static_cast<int64_t>(docs.size());
  const int64_t first = total * dp_rank / dp_size, last = total * (dp_rank + 1) / dp_size;
  ATTNSCALE_CHECK(last > first, "doc_batches", "data-parallel rank {} of {} gets no document of a batch of {}",
                  dp_rank, dp_size, total);
  DocBatch b;
  b.documents = last - first;
  std::vector<int64_t> sentence_ids, labels, sentence_lengths;
  std::vector<std::pair<int64_t, int64_t>> doc_sentences;  // [begin, end) into sentence_ids
  for (int64_t i = first; i < last; ++i) {
    const int64_t doc = docs[i], n = kept_sentences(corpus, doc, spec);
    const int64_t begin = n * cp_rank / cp_size, end = n * (cp_rank + 1) / cp_size;
    doc_sentences.emplace_back(static_cast<int64_t>(sentence_ids.size()),
                               static_cast<int64_t>(sentence_ids.size()) + end - begin);
    for (int64_t s = begin; s < end; ++s) sentence_ids.push_back(corpus.document_offsets[doc] + s);
    sentence_lengths.push_back(end - begin);
    // The largest piece of any rank, so that the group agrees on S (ceil(n / cp) >= end - begin).
    b.max_sentences = std::max(b.max_sentences, (n + cp_size - 1) / cp_size);
    labels.push_back(corpus.labels[doc]);
  }
  b.max_sentences = std::max<int64_t>(b.max_sentences, 1);  // a [B, 0] mask would have no rows to pool
  b.sentences = static_cast<int64_t>(sentence_ids.size());
  int64_t width = 1;
  for (const int64_t s : sentence_ids) width = std::max(width, kept_words(corpus, s, spec));
  std::vector<int64_t> words(static_cast<size_t>(b.sentences * width), 0), word_lengths;
  std::vector<double> word_mask(words.size(), 0.0);
  for (int64_t r = 0; r < b.sentences; ++r) {
    const int64_t len = kept_words(corpus, sentence_ids[r], spec);
    const auto tokens = corpus.sentence(sentence_ids[r]);
    for (int64_t w = 0; w < len; ++w) {
      words[r * width + w] = tokens[w];
      word_mask[r * width + w] = 1.0;
    }
    word_lengths.push_back(len);
    b.tokens += len;
  }
  std::vector<int64_t> sentence_index(static_cast<size_t>(b.documents * b.max_sentences), b.sentences);
  std::vector<double> sentence_mask(sentence_index.size(), 0.0);
  for (int64_t d = 0; d < b.documents; ++d)
    for (int64_t s = doc_sentences[d].first; s < doc_sentences[d].second; ++s) {
      sentence_index[d * b.max_sentences + s - doc_sentences[d].first] = s;
      sentence_mask[d * b.max_sentences + s - doc_sentences[d].first] = 1.0;
    }
  b.words = Tensor::from(words, {b.sentences, width});
  b.word_lengths = Tensor::from(word_lengths, {b.sentences});
  b.word_mask = Tensor::from(word_mask, {b.sentences, width}).to(dtype);
  b.sentence_index = Tensor::from(sentence_index, {b.documents * b.max_sentences});
  b.sentence_lengths = Tensor::from(sentence_lengths, {b.documents});
  b.sentence_mask = Tensor::from(sentence_mask, {b.documents, b.max_sentences}).to(dtype);
  b.labels = Tensor::from(labels, {b.documents});
  return b;
}

}  // namespace attnscale::data

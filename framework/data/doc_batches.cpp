#include "framework/data/doc_batches.h"

#include <algorithm>
#include <random>

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

DocBatcher::DocBatcher(const DocCorpus& corpus, Split split, const DocBatchSpec& spec)
    : corpus_(corpus), docs_(corpus.split(split)), spec_(spec) {
  if (docs_.empty())
    throw DataError(fmt::format("[doc_batches] the {} split has no document", split_name(split)));
  ATTNSCALE_CHECK(spec.batch_size >= 1 && spec.bucket_batches >= 1, "doc_batches",
                  "batch_size ({}) and bucket_batches ({}) must be positive", spec.batch_size, spec.bucket_batches);
  batches_per_epoch_ = std::max<int64_t>(1, static_cast<int64_t>(docs_.size()) / spec.batch_size);
}

std::vector<int64_t> DocBatcher::train_batch(int64_t index) const {
  ATTNSCALE_CHECK(index >= 0, "doc_batches", "batch index must be non-negative, got {}", index);
  const int64_t epoch = index / batches_per_epoch_, in_epoch = index % batches_per_epoch_;
  const int64_t batch = spec_.batch_size, n = static_cast<int64_t>(docs_.size());
  // The epoch's order (seeded Fisher-Yates; a corpus smaller than a batch wraps round).
  std::vector<int64_t> order = docs_;
  std::mt19937_64 rng(spec_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  const int64_t used = batches_per_epoch_ * batch;
  std::vector<int64_t> epoch_docs(static_cast<size_t>(used));
  for (int64_t i = 0; i < used; ++i) epoch_docs[i] = order[i % n];
  // The window holding this batch, sorted by length, and the batch order inside it.
  const int64_t window = in_epoch / spec_.bucket_batches;
  const int64_t first_batch = window * spec_.bucket_batches;
  const int64_t window_batches = std::min(spec_.bucket_batches, batches_per_epoch_ - first_batch);
  std::vector<int64_t> window_docs(epoch_docs.begin() + first_batch * batch,
                                   epoch_docs.begin() + (first_batch + window_batches) * batch);
  const auto length = [&](int64_t d) {
    return std::pair(corpus_.num_sentences(d), corpus_.sentence_offsets[corpus_.document_offsets[d + 1]] -
                                                   corpus_.sentence_offsets[corpus_.document_offsets[d]]);
  };
  std::stable_sort(window_docs.begin(), window_docs.end(),
                   [&](int64_t a, int64_t b) { return length(a) < length(b); });
  std::vector<int64_t> batch_order(static_cast<size_t>(window_batches));
  for (int64_t i = 0; i < window_batches; ++i) batch_order[i] = i;
  for (size_t i = batch_order.size(); i > 1; --i) std::swap(batch_order[i - 1], batch_order[rng() % i]);
  const int64_t chosen = batch_order[in_epoch - first_batch];
  return {window_docs.begin() + chosen * batch, window_docs.begin() + (chosen + 1) * batch};
}

int64_t DocBatcher::eval_batches_per_pass() const {
  return (static_cast<int64_t>(docs_.size()) + spec_.batch_size - 1) / spec_.batch_size;
}

std::vector<int64_t> DocBatcher::eval_batch(int64_t index) const {
  const int64_t k = index % eval_batches_per_pass(), n = static_cast<int64_t>(docs_.size());
  const int64_t begin = k * spec_.batch_size, end = std::min(n, begin + spec_.batch_size);
  return {docs_.begin() + begin, docs_.begin() + end};
}

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

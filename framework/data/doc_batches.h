// Batches of documents for HAN: which documents form batch i (length-bucketed, deterministic from
// the seed and i, like the LM task's batches), and the tensors of one rank's share of a batch.
//
// Training batches follow length_buckets.h with a document's length = (sentences, tokens): batches
// of documents of similar length, every document once per epoch.
// Sharding: data-parallel rank r of dp takes documents [r * B / dp, (r + 1) * B / dp) of the global
// batch; context-parallel rank c of cp takes sentences [n * c / cp, n * (c + 1) / cp) of each of
// those documents (n = its sentence count after truncation), so the ranks together hold exactly the
// global batch. Every rank of a cp group pads its documents to the same S = ceil(longest n / cp)
// sentence slots (the largest piece any rank gets), so a layer that spans the group (HAN's
// transformer sentence encoder) sees equal shards: rank c's slots are [c S, (c + 1) S).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "framework/data/doc_store.h"
#include "framework/data/length_buckets.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

struct DocBatchSpec {
  int64_t batch_size = 32;     // documents per global batch
  int64_t bucket_batches = 16;
  int64_t max_sentences = 0;   // truncation; 0 = none
  int64_t max_words = 0;
  uint64_t seed = 1234;
};

// One rank's share of a batch. Sentences are this rank's sentences of its documents, in document
// order; padding id 0.
struct DocBatch {
  Tensor words;             // int64 [N, W]: N sentences, W the longest (after truncation)
  Tensor word_lengths;      // int64 [N]
  Tensor word_mask;         // [N, W] 1 at words, 0 at padding (dtype of the model)
  Tensor sentence_index;    // int64 [B * S]: row of document b's s-th sentence among the N, N at padding
  Tensor sentence_lengths;  // int64 [B] (0 when this rank holds none of a document's sentences)
  Tensor sentence_mask;     // [B, S] 1 at sentences, 0 at padding
  Tensor labels;            // int64 [B]
  int64_t documents = 0, sentences = 0, tokens = 0;
  int64_t max_sentences = 0;  // S, the same on every rank of a cp group (>= 1)
};

class DocBatcher {
 public:
  DocBatcher(const DocCorpus& corpus, Split split, const DocBatchSpec& spec);

  int64_t batches_per_epoch() const { return buckets_.batches_per_epoch(); }
  // The global training batch `index` (document ids, batch_size of them).
  std::vector<int64_t> train_batch(int64_t index) const { return buckets_.train_batch(index); }
  // Evaluation batch `index`: the split's documents in order, batch_size at a time, wrapping
  // round; the last batch of a pass may be shorter so no document counts twice in a pass.
  std::vector<int64_t> eval_batch(int64_t index) const { return buckets_.eval_batch(index); }
  int64_t eval_batches_per_pass() const { return buckets_.eval_batches_per_pass(); }

 private:
  LengthBuckets buckets_;
};

// The tensors of this rank's share (see the sharding rule above) of the global batch `docs`.
DocBatch make_doc_batch(const DocCorpus& corpus, std::span<const int64_t> docs, const DocBatchSpec& spec,
                        int dp_rank, int dp_size, int cp_rank, int cp_size, DType dtype);

}  // namespace attnscale::data

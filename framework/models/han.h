// Hierarchical Attention Network (Yang et al., NAACL 2016): word embeddings -> bidirectional GRU
// word encoder -> word attention (context vector u_w) -> sentence vectors -> sentence encoder ->
// sentence attention (context vector u_s) -> document vector -> linear classifier. pooling =
// average / max gives the paper's HN-AVE / HN-MAX baselines. Sentence encoders: the paper's
// bidirectional GRU, none, or pre-norm Transformer encoder layers over each document's sentences
// (han_sentence_transformer.h: non-causal, key padding, no sentence positions).
//
// Distributed (DESIGN.md section 5): with a sentence group of several ranks, each rank holds some
// sentences of every document (data/doc_batches.h); word encoding and word attention stay local,
// the transformer encoder's self-attention runs over the group with context-parallel (ring)
// attention, and the sentence attention's softmax states are merged across the group, so every
// rank gets the document vectors one rank would compute. That needs sentence_encoder = transformer
// or none (a recurrent encoder would run the ranks one after another) and attention or average
// pooling (max has no softmax state).
#pragma once

#include <memory>

#include "framework/attention/hierarchical.h"
#include "framework/models/han_sentence_transformer.h"
#include "framework/nn/gru.h"
#include "framework/nn/layers.h"
#include "framework/nn/module.h"

namespace attnscale {
class Communicator;
}

namespace attnscale::models {

enum class SentenceEncoderKind { gru, none, transformer };

// One rank's share of a batch of B documents as tensors (data/doc_batches.h builds them from a
// corpus): N sentences of at most W words, each document's sentences in S slots.
struct HANInput {
  Tensor words;             // int64 [N, W], padding id 0
  Tensor word_lengths;      // int64 [N]
  Tensor word_mask;         // [N, W] 1 at words, 0 at padding (dtype of the model)
  Tensor sentence_index;    // int64 [B * S]: row of document b's s-th sentence among the N, N at padding
  Tensor sentence_lengths;  // int64 [B] (0 when this rank holds none of a document's sentences)
  Tensor sentence_mask;     // [B, S] 1 at sentences, 0 at padding
  int64_t documents = 0;      // B
  int64_t max_sentences = 0;  // S, the same on every rank of a sentence group (>= 1)
};

struct HANOptions {
  int64_t vocab_size = 0;
  int64_t num_classes = 0;
  int64_t embed_dim = 100;
  int64_t hidden_size = 50;  // GRU hidden size per direction (annotations are 2 * hidden_size)
  int64_t attn_dim = 100;
  attention::PoolingKind pooling = attention::PoolingKind::attention;
  SentenceEncoderKind sentence_encoder = SentenceEncoderKind::gru;
  int64_t sentence_heads = 2;   // transformer: attention heads (must divide 2 * hidden_size)
  int64_t sentence_layers = 1;  // transformer: encoder layers
  double dropout = 0.0;  // on the word embeddings and on the document vector
};

class HAN : public nn::Module {
 public:
  HAN(const HANOptions& options, Generator& gen, DType dtype = DType::f32);

  // Logits [B, C] for a batch (or this rank's share of one). sentence_group: the ranks holding the
  // other sentences of the same documents (null or size 1 = all sentences are here). Dropout masks:
  // word_gen for this rank's word embeddings, document_gen for the document vectors (the ranks of a
  // sentence group must pass generators in the same state, since they hold the same documents).
  Tensor forward(const HANInput& batch, Generator& word_gen, Generator& document_gen,
                 Communicator* sentence_group = nullptr) const;
  // Sentence vectors [N, 2H] of the batch's sentences (word encoder + word pooling).
  Tensor sentence_vectors(const HANInput& batch, Generator& gen) const;
  // Word and sentence attention weights of a single-rank batch: [N, W] and [B, S] (for inspection).
  std::pair<Tensor, Tensor> attention_weights(const HANInput& batch) const;

  const HANOptions& options() const { return options_; }

 private:
  // [B, S, 2H]; sentence_group as in forward (the transformer encoder's attention spans it).
  Tensor sentence_annotations(const HANInput& batch, Generator& gen, Communicator* sentence_group) const;

  HANOptions options_;
  DType dtype_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::GRU> word_encoder_;
  std::shared_ptr<attention::AttentionPooling> word_pooling_;
  std::shared_ptr<nn::GRU> sentence_encoder_;                 // SentenceEncoderKind::gru only
  std::shared_ptr<SentenceTransformer> sentence_transformer_;  // SentenceEncoderKind::transformer only
  std::shared_ptr<attention::AttentionPooling> sentence_pooling_;
  std::shared_ptr<nn::Linear> classifier_;
  std::shared_ptr<nn::Dropout> dropout_;
};

}  // namespace attnscale::models

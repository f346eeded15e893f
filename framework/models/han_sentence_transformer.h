// HAN's transformer sentence encoder (han.sentence_encoder = transformer): pre-norm Transformer
// encoder layers (Vaswani et al. 2017; pre-norm as in Xiong et al. 2020) over the sentence vectors
// of each document, non-causal, with key padding for documents with fewer sentences, then a final
// LayerNorm. Each layer: x + Attn(LN(x)), then h + MLP(LN(h)) (4x hidden, GELU). No dropout inside
// (HAN's model.dropout acts on the word embeddings and the document vector, as with the GRU).
//
// Unlike the bidirectional GRU it replaces, every sentence attends to every other sentence at once,
// so a document whose sentences are spread over a cp group runs one context-parallel attention
// (ring, distributed/context_parallel; the ring puts no condition on the head count, unlike Ulysses)
// per layer instead of a recurrence that would visit the ranks one after another. Everything else
// in a layer is per sentence and stays local.
//
// No sentence positions (no RoPE, no learned positions): the encoder sees each document as a set of
// sentences, as HAN's sentence attention already does. Why: with cp > 1 rank c holds sentences
// [n c / P, n (c + 1) / P) of a document of n sentences, a different offset for every document of the
// batch, while a kernels::Layout (and RoPE's position vector) gives one set of positions for the
// whole batch. Without positions and with a mask that has no positional part, the sequence
// positions the ring sees are mere slot numbers: every rank pads its sentences to the same S slots
// (data/doc_batches.h) and rank c holds slots [c S, (c + 1) S) of a contiguous layout of P S slots,
// padding slots masked as keys. The result is the single-rank encoder's, whatever the split.
#pragma once

#include <memory>
#include <vector>

#include "framework/nn/layers.h"
#include "framework/nn/module.h"

namespace attnscale {
class Communicator;
}

namespace attnscale::models {

struct SentenceTransformerOptions {
  int64_t dim = 100;   // sentence vector size (HAN: 2 * GRU hidden size)
  int64_t heads = 2;   // must divide dim
  int64_t layers = 1;
};

// One pre-norm encoder layer.
class SentenceEncoderLayer : public nn::Module {
 public:
  SentenceEncoderLayer(int64_t dim, int64_t heads, Generator& gen, DType dtype);
  // x [B, S, dim]; key_valid [B * S] (1 = a sentence); sentence_group as in SentenceTransformer.
  Tensor forward(const Tensor& x, const std::vector<int32_t>& key_valid, Communicator* sentence_group) const;

 private:
  Tensor self_attention(const Tensor& x, const std::vector<int32_t>& key_valid, Communicator* sentence_group) const;

  int64_t dim_, heads_;
  std::shared_ptr<nn::LayerNorm> norm1_, norm2_;
  std::shared_ptr<nn::Linear> q_proj_, k_proj_, v_proj_, o_proj_;
  std::shared_ptr<nn::MLP> mlp_;
};

class SentenceTransformer : public nn::Module {
 public:
  SentenceTransformer(const SentenceTransformerOptions& options, Generator& gen, DType dtype = DType::f32);

  // x [B, S, dim]: the sentence vectors of B documents in S slots, sentence_mask [B, S] (1 = a
  // sentence, 0 = padding). sentence_group (null or size 1 = every sentence is here): the ranks
  // holding the other sentences of the same documents; they call together, each with the same B
  // and S, rank c's slots standing for slots [c S, (c + 1) S) of the documents. Returns [B, S, dim];
  // rows at padding slots are finite and meaningless. The group must outlive the backward.
  Tensor forward(const Tensor& x, const Tensor& sentence_mask, Communicator* sentence_group = nullptr) const;

 private:
  SentenceTransformerOptions options_;
  std::vector<std::shared_ptr<SentenceEncoderLayer>> layers_;
  std::shared_ptr<nn::LayerNorm> final_norm_;
};

}  // namespace attnscale::models

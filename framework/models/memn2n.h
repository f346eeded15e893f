// End-To-End Memory Network (Sukhbaatar et al. 2015, 1503.08895) for question answering over a
// story of sentences. Sentence i becomes an input memory m_i = sum_j l_j * A x_ij + T_A(i) and an
// output memory c_i = sum_j l_j * C x_ij + T_C(i); the question becomes u = sum_j l_j * B q_j; K hops
// of memory attention (attention/memory.h) give u^{K+1}, and the answer is softmax(W u^{K+1}).
//   l_j: position encoding (PE) l_kj = (1 - j/J) - (k/d)(1 - 2j/J) (1-based j of J words, k of d),
//        or 1 for every word (bag of words).
//   T_A(i), T_C(i): temporal encoding (TE), a learned vector per sentence age (the story's most
//        recent sentence has age 0).
//   adjacent tying: A^{k+1} = C^k, B = A^1, W^T = C^K (K + 1 embedding tables), T_A^{k+1} = T_C^k;
//   layer-wise tying: one A, one C, T_A, T_C for every hop, separate B and W, u^{k+1} = H u^k + o^k.
// Linear start (LS) removes every hop's softmax; the task decides for how many steps.
#pragma once

#include <memory>
#include <vector>

#include "framework/attention/memory.h"
#include "framework/nn/layers.h"

namespace attnscale::models {

enum class MemoryTying { adjacent, layerwise };

struct MemN2NOptions {
  int64_t vocab_size = 0;  // words (the answers are words too); id `pad_id` is padding
  int64_t dim = 32;        // d
  int64_t hops = 3;        // K
  MemoryTying tying = MemoryTying::adjacent;
  bool position_encoding = true;
  bool temporal_encoding = true;
  int64_t memory_size = 10;  // most sentences a story may have (the TE table size)
  int64_t pad_id = 0;
  double init_std = 0.1;  // N(0, 0.1^2) as in the paper
};

struct MemN2NOutput {
  Tensor logits;                    // [B, vocab]
  std::vector<Tensor> hop_weights;  // p^k [B, M] per hop
};

class MemN2N : public nn::Module {
 public:
  MemN2N(const MemN2NOptions& options, Generator& gen, DType dtype = DType::f32);

  // story int64 [B, M, W] (sentence i of story b; words right-padded with pad_id), story_lengths
  // int64 [B] (1 <= n_b <= M sentences; later slots are padding), question int64 [B, Wq].
  // `linear_start` removes the softmax of every hop.
  MemN2NOutput forward(const Tensor& story, const Tensor& story_lengths, const Tensor& question,
                       bool linear_start) const;

  const MemN2NOptions& options() const { return options_; }

  // The weights l [..., W, d] (PE) or [..., W, 1] (bag of words) of the words `ids` [..., W]: zero at
  // padding, so a sum over W embeds a sentence.
  Tensor word_weights(const Tensor& ids) const;

 private:
  // sum_j l_j * table[x_j] + (temporal table row of each sentence's age): [B, M, d].
  Tensor embed_memory(const nn::Embedding& table, const nn::Embedding* temporal, const Tensor& story,
                      const Tensor& weights, const Tensor& ages) const;

  MemN2NOptions options_;
  DType dtype_;
  std::vector<std::shared_ptr<nn::Embedding>> tables_;    // adjacent: E_0..E_K; layer-wise: A, C, B
  std::vector<std::shared_ptr<nn::Embedding>> temporal_;  // adjacent: T_0..T_K; layer-wise: T_A, T_C
  std::shared_ptr<nn::Linear> answer_;                    // W (layer-wise only)
  std::shared_ptr<attention::MemoryAttention> attention_;
};

}  // namespace attnscale::models

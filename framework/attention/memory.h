// Memory-based attention: the multi-hop read of End-To-End Memory Networks (Sukhbaatar et al. 2015,
// 1503.08895). Each hop k is soft attention with the dot score over an external memory whose keys
// are the input memories m_i^k and whose read-out values are the output memories c_i^k:
//   p^k = softmax(u^k . m_i^k)        (linear start: p^k = u^k . m_i^k, the softmax removed)
//   o^k = sum_i p_i^k c_i^k
//   u^{k+1} = u^k + o^k               (adjacent tying)   or   H u^k + o^k   (layer-wise tying)
// A hop is the shared SourceMemory/DotScore/soft_read of source_attention.h with keys = m^k and
// states = c^k; what this mechanism adds is the hop recurrence, H and the linear start. The memory
// embeddings (A^k, C^k, position and temporal encoding) belong to the model (models/memn2n.h).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

struct MemoryAttentionOptions {
  int64_t dim = 0;         // size of u, m_i and c_i
  int64_t hops = 1;        // K
  bool query_map = false;  // layer-wise tying: u^{k+1} = H u^k + o^k with a learned H [dim, dim]
};

struct MemoryReadout {
  Tensor state;                 // u^{K+1} [B, dim]
  std::vector<Tensor> weights;  // p^k [B, M] per hop (zero at padded slots)
};

// One hop is a SourceAttention (dot score, softmax, expectation), so forward() below is the single
// hop that any encoder-decoder wiring could use; read() runs the K hops.
class MemoryAttention : public SourceAttention {
 public:
  MemoryAttention(const MemoryAttentionOptions& options, Generator& gen, DType dtype = DType::f32);

  // One soft hop over `memory` (SourceAttention's interface; `step` and `gen` are unused).
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;

  // The memory of one hop: input memories m [B, M, dim] (the keys), output memories c [B, M, dim]
  // (read out), and the number of filled slots per story, int64 [B] with 1 <= lengths[b] <= M
  // (undefined = all M). Slots at or after a story's length are padding and get weight 0.
  SourceMemory hop_memory(const Tensor& input_memory, const Tensor& output_memory, const Tensor& lengths) const;

  // K hops from the question embedding u^1 [B, dim], one memory per hop. `linear` removes the
  // softmax (linear start): the weights are the raw scores, zero at padded slots.
  MemoryReadout read(const Tensor& query, std::span<const SourceMemory> hops, bool linear) const;

  const MemoryAttentionOptions& options() const { return options_; }

 private:
  MemoryAttentionOptions options_;
  std::shared_ptr<nn::Linear> query_map_;  // H; null with adjacent tying
};

}  // namespace attnscale::attention

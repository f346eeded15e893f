// Soft (deterministic) attention: any score, a softmax over the unpadded source positions, and the
// expectation of the encoder states under it as the context (Bahdanau et al. 2015; the "soft"
// attention of Xu et al. 2015, 1502.03044). Differentiable end to end.
#pragma once

#include "framework/attention/source_attention.h"

namespace attnscale::attention {

class SoftAttention : public SourceAttention {
 public:
  explicit SoftAttention(std::shared_ptr<Score> score);
  AttentionRead forward(const Tensor& query, const SourceMemory& memory, int64_t step, Generator& gen) const override;
};

}  // namespace attnscale::attention

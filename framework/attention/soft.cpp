#include "framework/attention/soft.h"

namespace attnscale::attention {

SoftAttention::SoftAttention(std::shared_ptr<Score> score) : SourceAttention("soft", std::move(score)) {}

AttentionRead SoftAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator&) const {
  return soft_read(score_->forward(query, memory.keys), memory);
}

}  // namespace attnscale::attention

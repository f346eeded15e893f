#include "framework/attention/self_attention.h"

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::attention {

Tensor SelfAttention::forward_cached(const Tensor&, const Tensor&, DecodeCache&) const {
  throw UsageError("[attention] this mechanism has no cached decoding (make_cache returned none)");
}

void SelfAttention::check_continues(const char* who, const Tensor& x, const Tensor& positions, int64_t cached,
                                    int64_t batch) {
  ATTNSCALE_CHECK(positions.dim() == 1 && positions.numel() == x.shape()[1], who, "positions must be [{}], got {}",
                  x.shape()[1], shape_str(positions.shape()));
  const std::vector<int64_t> pos = positions.to_vector<int64_t>();
  for (size_t i = 0; i < pos.size(); ++i)
    ATTNSCALE_CHECK(pos[i] == cached + static_cast<int64_t>(i), who,
                    "cached decoding continues the cache: token {} must be at position {}, got {}", i,
                    cached + static_cast<int64_t>(i), pos[i]);
  ATTNSCALE_CHECK(batch == 0 || batch == x.shape()[0], who, "cache holds batch {}, input has batch {}", batch,
                  x.shape()[0]);
}

}  // namespace attnscale::attention

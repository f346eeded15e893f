// The size check of merge_softmax_states, shared by every backend (out of line, so that
// kernels/softmax_merge.h stays includable from device code).
#include "kernels/softmax_merge.h"

#include "base/error.h"

namespace attnscale::kernels {

void check_softmax_states(size_t out, size_t out_b, size_t lse, size_t lse_b, int64_t dv) {
  ATTNSCALE_CHECK(lse_b == lse && static_cast<int64_t>(out) == static_cast<int64_t>(lse) * dv &&
                      out_b == out,
                  "softmax_merge", "states disagree: out {} / {}, lse {} / {}, dv {}", out, out_b,
                  lse, lse_b, dv);
}

}  // namespace attnscale::kernels

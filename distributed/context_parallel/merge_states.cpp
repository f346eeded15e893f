#include "distributed/context_parallel/merge_states.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "base/error.h"
#include "kernels/softmax_merge.h"

namespace attnscale {

template <typename T>
void merge_states_across_ranks(Communicator* group, std::span<const T> out, std::span<const T> lse, int64_t dv,
                               std::span<T> merged_out, std::span<T> merged_lse) {
  const size_t out_size = out.size(), rows = lse.size();
  ATTNSCALE_CHECK(out_size == rows * static_cast<size_t>(dv) && merged_out.size() == out_size &&
                      merged_lse.size() == rows,
                  "merge_states", "states disagree: out {} and merged {} for {} rows of {}, merged lse {}", out_size,
                  merged_out.size(), rows, dv, merged_lse.size());
  std::vector<T> state(out.begin(), out.end());  // out, then lse: one all-gather
  state.insert(state.end(), lse.begin(), lse.end());
  const int ranks = group ? group->size() : 1;
  std::vector<T> all(state.size() * static_cast<size_t>(ranks));
  if (group) {
    group->all_gather(state, all);
  } else {
    all = state;
  }
  std::fill(merged_out.begin(), merged_out.end(), T{0});
  std::fill(merged_lse.begin(), merged_lse.end(), -std::numeric_limits<T>::infinity());
  for (int r = 0; r < ranks; ++r) {
    const T* block = all.data() + static_cast<size_t>(r) * state.size();
    kernels::merge_softmax_states<T>(merged_out, merged_lse, {block, out_size}, {block + out_size, rows}, dv);
  }
}

template void merge_states_across_ranks<float>(Communicator*, std::span<const float>, std::span<const float>, int64_t,
                                               std::span<float>, std::span<float>);
template void merge_states_across_ranks<double>(Communicator*, std::span<const double>, std::span<const double>,
                                                int64_t, std::span<double>, std::span<double>);

}  // namespace attnscale

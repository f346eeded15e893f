// The one distributed merge of softmax states: every rank of a group holds the state (out, lse)
// of the same rows over its own, disjoint keys; merged, they give the state over all keys, as one
// rank holding every key would compute it (kernels/softmax_merge.h is the merge of two states).
// One all-gather of the states, then the merge in rank order, so every rank holds the same bits.
// Hierarchical attention's sentence pooling over a document's sentences spread over a cp group
// (framework/attention/hierarchical.h) is its user.
#pragma once

#include <cstdint>
#include <span>

#include "distributed/comm/communicator.h"

namespace attnscale {

// out [rows, dv] and lse [rows]: this rank's states (a row that saw no allowed key: lse = -inf or
// a very low finite value, out = 0). merged_out, merged_lse: the same sizes, written on every rank.
// group == nullptr: one rank (the states are copied).
template <typename T>
void merge_states_across_ranks(Communicator* group, std::span<const T> out, std::span<const T> lse, int64_t dv,
                               std::span<T> merged_out, std::span<T> merged_lse);

}  // namespace attnscale

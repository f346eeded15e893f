// Moving between a whole sequence and a layout's shards, for arrays shaped [outer, tokens, width]
// (q/k/v/out as [B*H, N, D], lse as [B*H, N, 1], segment ids as [B, N, 1]): take one rank's
// tokens, or gather every rank's shard back into sequence order (op-check, evaluation, tests).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "kernels/layout.h"

namespace attnscale::cp {

// The tokens at `positions` of global [outer, length, width] -> [outer, positions.size(), width].
template <typename T>
std::vector<T> take_tokens(std::span<const T> global, int64_t outer, int64_t length, int64_t width,
                           const kernels::Positions& positions);

// Every rank's shard [outer, layout.local_length(rank), width] -> the whole sequence
// [outer, layout.length, width], on every rank of comm (an all-gather; comm of layout.ranks ranks,
// or nullptr for one).
template <typename T>
std::vector<T> gather_sequence(Communicator* comm, const kernels::Layout& layout, std::span<const T> local,
                               int64_t outer, int64_t width);

}  // namespace attnscale::cp

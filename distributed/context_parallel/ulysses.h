// Ulysses (DeepSpeed-Ulysses, Jacobs et al. 2023) on raw buffers: an all-to-all inside a group of
// U ranks turns sequence shards with every head, [B, H, n_u, W], into head shards with every
// token of the group, [B, H_u, N_group, W] in GroupOrder, and back.
//
// Query heads are split evenly (H % U == 0). Key/value heads follow the query heads they serve:
// member u gets the kv heads its query heads read, so GQA works when kv_heads % U == 0 (each
// member its own kv heads) or U % kv_heads == 0 (a kv head serves several members and travels to
// each; on the way back their gradients are summed).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/device.h"
#include "kernels/layout.h"

namespace attnscale::cp {

// The token order of a Ulysses group: after the sequence-to-head all-to-all a member holds the
// tokens of every member of its group, and this says in which order. Members' tokens are
// concatenated in member order unless sorting them by global position gives fewer strided runs
// (zigzag and striped shards of a whole cp group sort into one contiguous run), because the
// kernel classifies tiles by position range: fewer, contiguous runs skip more masked tiles.
struct GroupOrder {
  kernels::Positions positions;            // the group's tokens, in group order
  std::vector<std::vector<int64_t>> rows;  // rows[u][i]: group row of member u's token i

  int64_t size() const { return positions.size(); }
  int members() const { return static_cast<int>(rows.size()); }
  std::vector<int64_t> member_sizes() const;
};

GroupOrder group_order(std::span<const kernels::Positions> members);

struct HeadRange {
  int64_t begin = 0;
  int64_t count = 0;
};

struct HeadSplit {
  std::vector<HeadRange> q, kv;  // per member
};

// UsageError "[ulysses] ..." when the heads do not divide as described above.
HeadSplit split_heads(int64_t q_heads, int64_t kv_heads, int members);

// x [B, heads, n_me, W] -> y [B, ranges[me].count, N_group, W]. comm == nullptr: one member.
// x and y live on `device` (host or GPU; the packing copies run there, one per run of rows).
template <typename T>
void sequence_to_heads(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges,
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> x, std::span<T> y,
                       Device device = kCpu);

// The inverse: y [B, ranges[me].count, N_group, W] -> x [B, heads, n_me, W]. Heads held by several
// members (replicated kv heads) are summed; x is overwritten.
template <typename T>
void heads_to_sequence(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges,
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> y, std::span<T> x,
                       Device device = kCpu);

// Per-token values [B, n_me] of every member -> [B, N_group] in group order (all-gather).
std::vector<int32_t> gather_tokens(Communicator* comm, const GroupOrder& order, int64_t batch,
                                   std::span<const int32_t> local);

}  // namespace attnscale::cp

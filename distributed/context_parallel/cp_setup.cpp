#include "distributed/context_parallel/cp_setup.h"

#include <optional>

#include "base/error.h"

namespace attnscale::cp {
namespace {

int size_of(const Communicator* comm) { return comm ? comm->size() : 1; }

// The token order of the Ulysses group `group_index` (cp ranks group_index * U + u).
GroupOrder order_of_group(const kernels::Layout& layout, int group_index, int members) {
  std::vector<kernels::Positions> positions;
  for (int u = 0; u < members; ++u) positions.push_back(layout.positions(group_index * members + u));
  return group_order(positions);
}

}  // namespace

CpSetup make_cp_setup(const ContextParallelGroup& group, const kernels::Layout& key_layout,
                      int64_t q_heads, int64_t kv_heads) {
  const int cp_size = size_of(group.cp);
  const int cp_rank = group.cp ? group.cp->rank() : 0;
  CpSetup setup;
  switch (group.algo) {
    case ParallelAlgo::ring:
      setup.ring = cp_size > 1 ? group.cp : nullptr;
      break;
    case ParallelAlgo::ulysses:
      setup.ulysses = cp_size > 1 ? group.cp : nullptr;
      break;
    case ParallelAlgo::hybrid: {
      ATTNSCALE_CHECK(group.ulysses != nullptr && group.ring != nullptr, "context_parallel",
                      "algo hybrid needs both the ulysses and the ring communicator (ProcessGrid::ulysses(), "
                      "ring())");
      const int u = group.ulysses->size(), r = group.ring->size();
      ATTNSCALE_CHECK(u * r == cp_size, "context_parallel",
                      "hybrid: ulysses ({}) x ring ({}) ranks must make the cp group ({})", u, r, cp_size);
      ATTNSCALE_CHECK(cp_rank == group.ring->rank() * u + group.ulysses->rank(), "context_parallel",
                      "hybrid: cp rank {} is not ring rank {} x {} + ulysses rank {} (build the "
                      "communicators with ProcessGrid)",
                      cp_rank, group.ring->rank(), u, group.ulysses->rank());
      setup.ulysses = u > 1 ? group.ulysses : nullptr;
      setup.ring = r > 1 ? group.ring : nullptr;
      break;
    }
    default:
      throw UsageError(fmt::format("[context_parallel] parallel algorithm {} does not run on the ring (ring, ulysses "
                                   "or hybrid; sequence_parallel_attention runs the others)",
                                   parallel_algo_name(group.algo)));
  }
  setup.ulysses_size = size_of(setup.ulysses);
  setup.ring_size = size_of(setup.ring);
  setup.heads = split_heads(q_heads, kv_heads, setup.ulysses_size);

  const int u = setup.ulysses_size;
  for (int g = 0; g < setup.ring_size; ++g) {
    GroupOrder q_order = order_of_group(group.layout, g, u);
    GroupOrder k_order = order_of_group(key_layout, g, u);
    setup.ring_queries.push_back(q_order.positions);
    setup.ring_keys.push_back(k_order.positions);
    if (g == cp_rank / u) {
      setup.q_order = std::move(q_order);
      setup.k_order = std::move(k_order);
    }
  }
  return setup;
}

void plan_ring(CpSetup& setup, const kernels::Mask& mask, int64_t batch, std::span<const int32_t> q_segment,
               std::span<const int32_t> k_segment) {
  std::optional<SegmentSummaries> segments;
  if (!q_segment.empty()) {
    std::vector<int64_t> key_counts;
    for (const kernels::Positions& keys : setup.ring_keys) key_counts.push_back(keys.size());
    segments = gather_segment_summaries(setup.ring, q_segment, k_segment, batch, key_counts);
  }
  setup.plan = std::make_shared<const RingPlan>(mask, setup.ring_queries, setup.ring_keys, 64,
                                                segments ? &*segments : nullptr);
}

}  // namespace attnscale::cp

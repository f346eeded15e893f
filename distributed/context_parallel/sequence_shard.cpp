#include "distributed/context_parallel/sequence_shard.h"

#include <algorithm>

#include "base/error.h"

namespace attnscale::cp {
namespace {

std::vector<int64_t> expand(const kernels::Positions& positions) {
  std::vector<int64_t> global(static_cast<size_t>(positions.size()));
  positions.fill(global);
  return global;
}

}  // namespace

template <typename T>
std::vector<T> take_tokens(std::span<const T> global, int64_t outer, int64_t length, int64_t width,
                           const kernels::Positions& positions) {
  ATTNSCALE_CHECK(static_cast<int64_t>(global.size()) == outer * length * width, "context_parallel",
                  "sequence of {} elements is not [{}, {}, {}]", global.size(), outer, length, width);
  const std::vector<int64_t> tokens = expand(positions);
  std::vector<T> local;
  local.reserve(static_cast<size_t>(outer) * tokens.size() * static_cast<size_t>(width));
  for (int64_t o = 0; o < outer; ++o)
    for (const int64_t t : tokens) {
      ATTNSCALE_CHECK(t >= 0 && t < length, "context_parallel", "position {} outside [0, {})", t, length);
      const T* row = global.data() + (o * length + t) * width;
      local.insert(local.end(), row, row + width);
    }
  return local;
}

template <typename T>
std::vector<T> gather_sequence(Communicator* comm, const kernels::Layout& layout, std::span<const T> local,
                               int64_t outer, int64_t width) {
  const int ranks = comm ? comm->size() : 1, rank = comm ? comm->rank() : 0;
  ATTNSCALE_CHECK(layout.ranks == ranks, "context_parallel", "the layout is over {} ranks, the group has {}",
                  layout.ranks, ranks);
  std::vector<size_t> counts;
  for (int r = 0; r < ranks; ++r) counts.push_back(static_cast<size_t>(outer * layout.local_length(r) * width));
  ATTNSCALE_CHECK(local.size() == counts[static_cast<size_t>(rank)], "context_parallel",
                  "rank {} shard holds {} elements, expected {}", rank, local.size(), counts[static_cast<size_t>(rank)]);
  std::vector<T> shards(local.begin(), local.end());
  if (comm) {
    shards.resize(packed_displacements(counts).back() + counts.back());
    comm->all_gather_v(local, shards, counts);
  }
  std::vector<T> global(static_cast<size_t>(outer * layout.length * width));
  const T* from = shards.data();
  for (int r = 0; r < ranks; ++r) {
    const std::vector<int64_t> tokens = expand(layout.positions(r));
    for (int64_t o = 0; o < outer; ++o)
      for (const int64_t t : tokens) {
        std::copy_n(from, width, global.data() + (o * layout.length + t) * width);
        from += width;
      }
  }
  return global;
}

#define ATTNSCALE_SEQUENCE_SHARD(T)                                                                     \
  template std::vector<T> take_tokens<T>(std::span<const T>, int64_t, int64_t, int64_t,                 \
                                         const kernels::Positions&);                                    \
  template std::vector<T> gather_sequence<T>(Communicator*, const kernels::Layout&, std::span<const T>, \
                                             int64_t, int64_t);
ATTNSCALE_SEQUENCE_SHARD(float)
ATTNSCALE_SEQUENCE_SHARD(double)
ATTNSCALE_SEQUENCE_SHARD(int32_t)
#undef ATTNSCALE_SEQUENCE_SHARD

}  // namespace attnscale::cp

// `--algo`: the algorithm names and the automatic choice from the mask and the layout.
#include <algorithm>
#include <limits>

#include "distributed/context_parallel/sequence_parallel_attention.h"

namespace attnscale {

SeqAlgo parse_seq_algo(std::string_view name) {
  if (name == "halo") return SeqAlgo::halo;
  if (name == "sparse-fetch") return SeqAlgo::sparse_fetch;
  if (name == "ring") return SeqAlgo::ring;
  if (name == "all-gather") return SeqAlgo::all_gather;
  if (name == "auto") return SeqAlgo::automatic;
  throw UsageError(
      fmt::format("[sequence_parallel] unknown algorithm '{}' (expected halo, sparse-fetch, ring, all-gather or auto)", name));
}

const char* seq_algo_name(SeqAlgo algo) {
  switch (algo) {
    case SeqAlgo::halo:
      return "halo";
    case SeqAlgo::sparse_fetch:
      return "sparse-fetch";
    case SeqAlgo::ring:
      return "ring";
    case SeqAlgo::all_gather:
      return "all-gather";
    case SeqAlgo::automatic:
      return "auto";
  }
  return "?";
}

AlgoChoice choose_algo(const kernels::Mask& mask, const kernels::Layout& layout, kernels::Normalizer normalizer) {
  if (normalizer == kernels::Normalizer::sparsemax)
    return {SeqAlgo::all_gather, "sparsemax: its threshold needs every score of a row on one rank"};
  if (mask.blocks) return {SeqAlgo::sparse_fetch, "a block pattern: only the blocks it names travel"};
  if (mask.window && layout.kind == kernels::LayoutKind::contiguous) {
    int64_t smallest = std::numeric_limits<int64_t>::max();
    for (int r = 0; r < layout.ranks; ++r) smallest = std::min(smallest, layout.local_length(r));
    const int64_t widest = std::max(mask.window->left, mask.window->right);
    if (widest < smallest)
      return {SeqAlgo::halo, fmt::format("window ({} left, {} right) narrower than the smallest shard ({}): only "
                                         "the neighbours' edges travel",
                                         mask.window->left, mask.window->right, smallest)};
    return {SeqAlgo::ring, fmt::format("window ({} left, {} right) not narrower than the smallest shard ({})",
                                       mask.window->left, mask.window->right, smallest)};
  }
  if (mask.window)
    return {SeqAlgo::ring, fmt::format("a window on a {} layout (halo needs contiguous shards)",
                                       kernels::layout_kind_name(layout.kind))};
  return {SeqAlgo::ring, "no window or block pattern: every shard may need every other"};
}

}  // namespace attnscale

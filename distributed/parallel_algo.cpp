#include "distributed/parallel_algo.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"

namespace attnscale {

std::string_view parallel_algo_name(ParallelAlgo algo) { return kParallelAlgoNames[static_cast<size_t>(algo)]; }

std::string parallel_algo_flag(ParallelAlgo algo) {
  std::string flag(parallel_algo_name(algo));
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::vector<std::string> parallel_algo_flags() {
  std::vector<std::string> flags;
  for (size_t i = 0; i < kParallelAlgoNames.size(); ++i) flags.push_back(parallel_algo_flag(static_cast<ParallelAlgo>(i)));
  return flags;
}

std::optional<ParallelAlgo> parse_parallel_algo(std::string_view name) {
  std::string yaml(name);
  std::replace(yaml.begin(), yaml.end(), '-', '_');
  for (size_t i = 0; i < kParallelAlgoNames.size(); ++i)
    if (kParallelAlgoNames[i] == yaml) return static_cast<ParallelAlgo>(i);
  return std::nullopt;
}

ParallelAlgo parallel_algo_from_name(std::string_view name, std::string_view where) {
  if (const auto algo = parse_parallel_algo(name)) return *algo;
  throw UsageError(fmt::format("[{}] unknown parallel algorithm '{}' (expected {})", where, name,
                               fmt::join(parallel_algo_flags(), ", ")));
}

bool splits_heads(ParallelAlgo algo) { return algo == ParallelAlgo::ulysses || algo == ParallelAlgo::hybrid; }

bool runs_context_parallel(ParallelAlgo algo) { return algo == ParallelAlgo::ring || splits_heads(algo); }

AlgoInputs algo_inputs(const kernels::Mask& mask, const kernels::Layout& layout, kernels::Normalizer normalizer) {
  return {.window = mask.window.has_value(),
          .blocks = mask.blocks != nullptr,
          .contiguous = layout.kind == kernels::LayoutKind::contiguous || layout.ranks == 1,
          .softmax = normalizer == kernels::Normalizer::softmax};
}

std::optional<AlgoNeed> algo_misfit(ParallelAlgo algo, const AlgoInputs& in) {
  if (algo == ParallelAlgo::halo && !in.window) return AlgoNeed::window;
  if (algo == ParallelAlgo::halo && !in.contiguous) return AlgoNeed::contiguous_layout;
  if (algo == ParallelAlgo::sparse_fetch && !in.blocks) return AlgoNeed::block_pattern;
  if (algo != ParallelAlgo::all_gather && algo != ParallelAlgo::auto_ && !in.softmax) return AlgoNeed::softmax;
  return std::nullopt;
}

std::string_view algo_need_text(AlgoNeed need) {
  switch (need) {
    case AlgoNeed::window: return "a sliding-window mask (only a window has a halo)";
    case AlgoNeed::contiguous_layout: return "a contiguous layout (a window's neighbours sit on the adjacent ranks only there; ring runs any layout)";
    case AlgoNeed::block_pattern: return "a block-pattern mask (block_sparse)";
    case AlgoNeed::softmax: return "the softmax normaliser (sparsemax needs every score of a row on one rank: use all_gather)";
  }
  return "?";
}

void check_algo_fits(ParallelAlgo algo, const AlgoInputs& inputs, std::string_view where) {
  if (const auto need = algo_misfit(algo, inputs))
    throw UsageError(fmt::format("[{}] {} needs {}; auto picks an algorithm that fits", where,
                                 parallel_algo_name(algo), algo_need_text(*need)));
}

AlgoChoice choose_algo(const kernels::Mask& mask, const kernels::Layout& layout, kernels::Normalizer normalizer) {
  if (normalizer == kernels::Normalizer::sparsemax)
    return {ParallelAlgo::all_gather, "sparsemax: its threshold needs every score of a row on one rank"};
  if (mask.blocks) return {ParallelAlgo::sparse_fetch, "a block pattern: only the blocks it names travel"};
  if (mask.window && layout.kind == kernels::LayoutKind::contiguous) {
    int64_t smallest = std::numeric_limits<int64_t>::max();
    for (int r = 0; r < layout.ranks; ++r) smallest = std::min(smallest, layout.local_length(r));
    const int64_t widest = std::max(mask.window->left, mask.window->right);
    if (widest < smallest)
      return {ParallelAlgo::halo, fmt::format("window ({} left, {} right) narrower than the smallest shard ({}): only "
                                              "the neighbours' edges travel",
                                              mask.window->left, mask.window->right, smallest)};
    return {ParallelAlgo::ring, fmt::format("window ({} left, {} right) not narrower than the smallest shard ({})",
                                            mask.window->left, mask.window->right, smallest)};
  }
  if (mask.window)
    return {ParallelAlgo::ring, fmt::format("a window on a {} layout (halo needs contiguous shards)",
                                            kernels::layout_kind_name(layout.kind))};
  return {ParallelAlgo::ring, "no window or block pattern: every shard may need every other"};
}

ParallelAlgo resolve_algo(ParallelAlgo algo, const kernels::Mask& mask, const kernels::Layout& layout,
                          kernels::Normalizer normalizer) {
  return algo == ParallelAlgo::auto_ ? choose_algo(mask, layout, normalizer).algo : algo;
}

}  // namespace attnscale

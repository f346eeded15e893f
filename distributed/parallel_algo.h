// The algorithms that run one attention layer over the ranks of a context-parallel group: the
// values of `parallel.algo` (YAML) and `--algo` (op-check, benchmarks). One enum, one name table,
// one fit check and one automatic choice, used by the config, its validation, the trainer, the
// op-check and the benchmarks.
//
//   ring          K/V travel round the cp group (context_parallel/ring_attention.h)
//   ulysses       all-to-all to head shards, local attention, all-to-all back (ulysses.h)
//   hybrid        Ulysses inside groups, ring across them
//   halo          sliding windows on contiguous shards: only the neighbours' edges travel
//   sparse_fetch  block patterns: only the blocks the pattern names travel
//   all_gather    every rank gathers the whole K/V; any normaliser (sparsemax)
//   auto_         choose_algo's pick from the mask, the layout and the normaliser
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/general_attention.h"
#include "kernels/layout.h"

namespace attnscale {

enum class ParallelAlgo { ring, ulysses, hybrid, halo, sparse_fetch, all_gather, auto_ };

// The name table, in enumerator order: the YAML spelling. The command line writes '-' for '_'
// (`--algo sparse-fetch`); parse_parallel_algo reads both.
inline constexpr std::array<std::string_view, 7> kParallelAlgoNames{"ring",         "ulysses",    "hybrid", "halo",
                                                                    "sparse_fetch", "all_gather", "auto"};

std::string_view parallel_algo_name(ParallelAlgo algo);  // "sparse_fetch"
std::string parallel_algo_flag(ParallelAlgo algo);       // "sparse-fetch"
std::vector<std::string> parallel_algo_flags();          // every value, command-line spelling
std::optional<ParallelAlgo> parse_parallel_algo(std::string_view name);  // either spelling
// As parse_parallel_algo; a UsageError naming `where` and the accepted values otherwise.
ParallelAlgo parallel_algo_from_name(std::string_view name, std::string_view where);

// ulysses and hybrid split the heads over ranks (query and key/value heads must divide).
bool splits_heads(ParallelAlgo algo);
// ring, ulysses and hybrid run context_parallel_attention; the rest sequence_parallel_attention.
bool runs_context_parallel(ParallelAlgo algo);

// ---- the fit check: what an algorithm needs of the mask, the layout and the normaliser ----------
struct AlgoInputs {
  bool window = false;      // the mask has a sliding window
  bool blocks = false;      // the mask has a block pattern
  bool contiguous = true;   // each rank holds one contiguous piece (any layout over one rank)
  bool softmax = true;      // the normaliser is softmax (not sparsemax)
};
AlgoInputs algo_inputs(const kernels::Mask& mask, const kernels::Layout& layout,
                       kernels::Normalizer normalizer = kernels::Normalizer::softmax);

// The one condition an algorithm misses (the first, in this order), or none:
//   halo: window, then contiguous_layout; sparse_fetch: block_pattern; all but all_gather and
//   auto: softmax (sparsemax's threshold needs every score of a row on one rank).
enum class AlgoNeed { window, contiguous_layout, block_pattern, softmax };
std::optional<AlgoNeed> algo_misfit(ParallelAlgo algo, const AlgoInputs& inputs);
// The need in words, for messages: "a sliding-window mask", ...
std::string_view algo_need_text(AlgoNeed need);
// UsageError "[where] <algo> needs <need>; auto picks an algorithm that fits" when it misfits.
void check_algo_fits(ParallelAlgo algo, const AlgoInputs& inputs, std::string_view where);

// ---- the automatic choice -------------------------------------------------------------------------
// What `auto` picks, with the reason in words:
//   all_gather    sparsemax (its threshold needs every score of a row on one rank);
//   sparse_fetch  a block pattern (only the named blocks travel);
//   halo          contiguous layout and a window narrower than the smallest shard (only the
//                 neighbours' edges travel);
//   ring          everything else (full, causal, wide windows, zigzag / striped layouts).
struct AlgoChoice {
  ParallelAlgo algo;
  std::string reason;
};
AlgoChoice choose_algo(const kernels::Mask& mask, const kernels::Layout& layout,
                       kernels::Normalizer normalizer = kernels::Normalizer::softmax);
// `algo` itself, or choose_algo's pick for auto_.
ParallelAlgo resolve_algo(ParallelAlgo algo, const kernels::Mask& mask, const kernels::Layout& layout,
                          kernels::Normalizer normalizer = kernels::Normalizer::softmax);

}  // namespace attnscale

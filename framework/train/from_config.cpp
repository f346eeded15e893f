#include "framework/train/from_config.h"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "base/logging.h"

namespace attnscale::train {

kernels::LayoutKind layout_kind(const Config& cfg) {
  return kernels::parse_layout_kind(std::string(config::to_string(cfg.parallel.layout)).c_str());
}

kernels::Mask causal_lm_mask(const AttentionConfig& cfg, int64_t seq_len, uint64_t seed) {
  kernels::Mask mask;
  mask.causal = true;
  switch (cfg.mask) {
    case config::Mask::none:
      throw ConfigError("[config] attention.mask: 'none' lets a language model see the tokens it predicts; use causal");
    case config::Mask::causal:
      break;
    case config::Mask::window:
      if (cfg.window <= 0) throw ConfigError("[config] attention.window: must be > 0 with attention.mask = window");
      mask.window = kernels::Window{cfg.window - 1, 0};
      break;
    case config::Mask::block_sparse: {
      const int64_t bs = cfg.block_size, blocks = (seq_len + bs - 1) / bs;
      std::vector<int64_t> globals;
      for (int64_t i = 0; i < std::min(cfg.sparse_global, blocks); ++i) globals.push_back(i);
      switch (cfg.sparse_pattern) {
        case config::SparsePattern::strided:
          mask.blocks = std::make_shared<kernels::BlockPattern>(
              kernels::BlockPattern::strided(bs, blocks, cfg.sparse_stride, true));
          break;
        case config::SparsePattern::fixed:
          mask.blocks = std::make_shared<kernels::BlockPattern>(
              kernels::BlockPattern::fixed(bs, blocks, cfg.sparse_stride, std::max<int64_t>(cfg.sparse_global, 1), true));
          break;
        case config::SparsePattern::longformer:
          mask.blocks = std::make_shared<kernels::BlockPattern>(
              kernels::BlockPattern::longformer(bs, blocks, cfg.sparse_window, globals));
          break;
        case config::SparsePattern::bigbird:
          mask.blocks = std::make_shared<kernels::BlockPattern>(kernels::BlockPattern::bigbird(
              bs, blocks, cfg.sparse_window, cfg.sparse_global, cfg.sparse_random, seed));
          break;
      }
      break;
    }
  }
  return mask;
}

kernels::Normalizer dot_product_normalizer(const Config& cfg) {
  switch (cfg.attention.normalizer) {
    case config::Normalizer::softmax: return kernels::Normalizer::softmax;
    case config::Normalizer::sparsemax: return kernels::Normalizer::sparsemax;
  }
  throw ConfigError("[config] attention.normalizer: unknown value");
}

std::shared_ptr<const ContextParallelGroup> context_parallel_group(const Config& cfg, const ParallelContext& parallel,
                                                                   const kernels::Mask& mask,
                                                                   kernels::Normalizer normalizer) {
  if (parallel.cp_size() == 1) return nullptr;
  const kernels::Layout layout(parallel.layout, cfg.data.seq_len, parallel.cp_size());
  ParallelAlgo algo = cfg.parallel.algo;
  if (const config::MechanismRules* rules = config::mechanism_rules(cfg); rules && rules->causal_window) {
    // Its span is a causal window: each rank fetches the keys within it (halo_prefix), whatever the algorithm.
    LOG_INFO("{} over {} ranks: each rank fetches the keys within its window before its shard",
             config::to_string(cfg.attention.mechanism), parallel.cp_size());
  } else if (algo == ParallelAlgo::auto_) {
    const AlgoChoice choice = choose_algo(mask, layout, normalizer);
    algo = choice.algo;
    LOG_INFO("parallel.algo = auto: {} ({})", parallel_algo_name(algo), choice.reason);
  }
  return std::make_shared<const ContextParallelGroup>(ContextParallelGroup{
      &parallel.grid->cp(), &parallel.grid->ulysses(), &parallel.grid->ring(), algo, layout});
}

}  // namespace attnscale::train

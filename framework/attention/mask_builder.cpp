#include "framework/attention/mask_builder.h"

#include <limits>
#include <vector>

namespace attnscale::attention {

kernels::Mask causal_lm_mask(const AttentionConfig& cfg, int64_t seq_len, uint64_t seed) {
  kernels::Mask mask;
  mask.causal = true;
  switch (cfg.mask) {
    case config::Mask::none:
      throw ConfigError("[config] attention.mask: 'none' lets a language model see the tokens it predicts; use causal");
    case config::Mask::causal:
      break;
    case config::Mask::window:
      ATTNSCALE_CHECK(cfg.window > 0, "config", "attention.window must be > 0 with attention.mask=window");
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

Tensor mask_bias(const kernels::Mask& mask, const kernels::Positions& q_positions,
                 const kernels::Positions& k_positions, DType dtype) {
  const int64_t n = q_positions.size(), m = k_positions.size();
  std::vector<int64_t> qp(n), kp(m);
  q_positions.fill(qp);
  k_positions.fill(kp);
  Tensor bias = Tensor::zeros({n, m}, dtype);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "mask_bias", [&] {
    scalar_t* p = bias.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        if (!mask.allows(qp[i], kp[j])) p[i * m + j] = -std::numeric_limits<scalar_t>::infinity();
  });
  return bias;
}

}  // namespace attnscale::attention

// The one place a Config becomes the runtime objects the modules, models and distributed ops take
// (they never see Config): the layout, the attention masks, the normaliser and the parallel
// algorithm with its group. A config error raised here names the key. The mechanism's own options
// are translated by its registration (framework/train/mechanisms/), the model's by its task's options
// function; the scale passes through as configured (0 = 1/sqrt(head_dim): kernels::score_scale).
#pragma once

#include <memory>
#include <string_view>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "framework/config/config.h"
#include "framework/train/parallel_context.h"
#include "kernels/general_attention.h"
#include "kernels/layout.h"
#include "kernels/mask.h"

namespace attnscale::train {

// parallel.layout.
kernels::LayoutKind layout_kind(const Config& cfg);

// Masks for an autoregressive model over sequences of data.seq_len tokens (global positions
// 0..seq_len-1): causal; window = causal sliding window of attention.window keys; block_sparse =
// the causal variant of the configured pattern (random blocks drawn from run.seed).
// attention.mask = none is refused (it would show the future).
kernels::Mask causal_lm_mask(const AttentionConfig& attention, int64_t seq_len, uint64_t seed);

// attention.normalizer for the dot-product models (TransformerLM, encoder-decoder), the only ones that
// read it (config validation refuses it for the others): softmax or sparsemax.
kernels::Normalizer dot_product_normalizer(const Config& cfg);

// The cp group attention runs over, with parallel.algo chosen once here (auto: choose_algo for
// this mask, layout and normaliser, logged once). Null when cp = 1.
std::shared_ptr<const ContextParallelGroup> context_parallel_group(const Config& cfg, const ParallelContext& parallel,
                                                                   const kernels::Mask& mask,
                                                                   kernels::Normalizer normalizer);

}  // namespace attnscale::train

// Loss and regularisation functions of neural networks (differentiable).
#pragma once

#include <cstdint>

#include "framework/core/tensor/random.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale {

enum class Reduction { none, sum, mean };

// Cross-entropy of logits [..., C] against int64 targets [...] (class ids in [0, C), or
// ignore_index), fused with log-softmax. mean averages over the targets that are not ignored (all
// ignored gives 0, not NaN); none returns the per-target losses (0 where ignored) in targets' shape.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean);

// Inverted dropout: zeroes each element with probability p and scales the others by 1 / (1 - p),
// so the expectation is unchanged. The mask comes from gen's Philox stream (gen advances), and is
// the same for any thread count. Returns x itself when !training or p == 0.
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training);

}  // namespace attnscale

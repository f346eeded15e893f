// attention.normalizer for the dot-product models (TransformerLM, encoder-decoder), the only ones that
// read it (config validation refuses it for the others): softmax or sparsemax.
#pragma once

#include "framework/config/config.h"
#include "kernels/general_attention.h"

namespace attnscale::train {

kernels::Normalizer dot_product_normalizer(const Config& cfg);

}  // namespace attnscale::train

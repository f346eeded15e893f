// attention.normalizer for the dot-product models (TransformerLM, encoder-decoder): softmax or
// sparsemax; 'hard' (sampled attention) is the seq2seq model's and a ConfigError here.
#pragma once

#include <string_view>

#include "framework/config/config.h"
#include "kernels/general_attention.h"

namespace attnscale::train {

kernels::Normalizer dot_product_normalizer(const Config& cfg, std::string_view model_type);

}  // namespace attnscale::train

#include "framework/train/attention_normalizer.h"

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::train {

kernels::Normalizer dot_product_normalizer(const Config& cfg, std::string_view model_type) {
  switch (cfg.attention.normalizer) {
    case config::Normalizer::softmax: return kernels::Normalizer::softmax;
    case config::Normalizer::sparsemax: return kernels::Normalizer::sparsemax;
    case config::Normalizer::hard: break;
  }
  throw ConfigError(fmt::format("[config] attention.normalizer: 'hard' (sampled attention) belongs to the seq2seq "
                                "model; model.type = {} takes softmax or sparsemax",
                                model_type));
}

}  // namespace attnscale::train

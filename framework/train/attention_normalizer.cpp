#include "framework/train/attention_normalizer.h"

#include "base/error.h"

namespace attnscale::train {

kernels::Normalizer dot_product_normalizer(const Config& cfg) {
  switch (cfg.attention.normalizer) {
    case config::Normalizer::softmax: return kernels::Normalizer::softmax;
    case config::Normalizer::sparsemax: return kernels::Normalizer::sparsemax;
  }
  throw ConfigError("[config] attention.normalizer: unknown value");
}

}  // namespace attnscale::train

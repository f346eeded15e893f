// The "0 = derive it" rules of the key table, in one place.
#include "framework/config/config.h"

namespace attnscale {

std::int64_t kv_heads(const ModelConfig& model) { return model.n_kv_heads > 0 ? model.n_kv_heads : model.n_heads; }

std::int64_t head_dim(const ModelConfig& model) { return model.d_model / model.n_heads; }

std::int64_t ff_width(const ModelConfig& model) { return model.d_ff > 0 ? model.d_ff : 4 * model.d_model; }

std::int64_t micro_batch_size(const Config& cfg) {
  return cfg.data.batch_size / (cfg.parallel.dp * cfg.train.accum_steps);
}

}  // namespace attnscale

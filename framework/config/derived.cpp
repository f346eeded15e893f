// The "0 = derive it" rules of the key table, in one place.
#include "base/error.h"
#include "framework/config/config.h"

namespace attnscale {

std::int64_t kv_heads(const ModelConfig& model) { return model.n_kv_heads > 0 ? model.n_kv_heads : model.n_heads; }

std::int64_t head_dim(const ModelConfig& model) { return model.d_model / model.n_heads; }

std::int64_t ff_width(const ModelConfig& model) { return model.d_ff > 0 ? model.d_ff : 4 * model.d_model; }

std::int64_t data_parallel_size(const ParallelConfig& parallel, int world_size) {
  return parallel.dp > 0 ? parallel.dp : world_size / parallel.cp;
}

std::int64_t micro_batch_size(const Config& cfg, std::int64_t dp_size) {
  ATTNSCALE_CHECK(cfg.parallel.dp == 0 || cfg.parallel.dp == dp_size, "config",
                  "parallel.dp = {} but the process grid has {} data-parallel ranks", cfg.parallel.dp, dp_size);
  return cfg.data.batch_size / (dp_size * cfg.train.accum_steps);
}

}  // namespace attnscale

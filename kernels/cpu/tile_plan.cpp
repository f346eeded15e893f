#include "kernels/cpu/tile_plan.h"

#include "base/error.h"

namespace attnscale::kernels::cpu {

TilePlan::TilePlan(const Mask& mask, const Positions& q_positions, const Positions& k_positions,
                   int64_t batch, int64_t q_tile, int64_t k_tile)
    : rule_(mask.rule()),
      q_pos_(static_cast<size_t>(q_positions.size())),
      k_pos_(static_cast<size_t>(k_positions.size())),
      q_tile_(q_tile),
      k_tile_(k_tile),
      per_batch_(mask.has_segments() || mask.has_key_padding()) {
  ATTNSCALE_CHECK(q_tile >= 1 && k_tile >= 1, "attention", "tile sizes must be >= 1, got {}x{}",
                  q_tile, k_tile);
  q_positions.fill(q_pos_);
  k_positions.fill(k_pos_);
  q_tiles_ = (q_len() + q_tile - 1) / q_tile;
  k_tiles_ = (k_len() + k_tile - 1) / k_tile;
  const int64_t rows = per_batch_ ? batch : 1;
  views_.reserve(static_cast<size_t>(rows));
  for (int64_t b = 0; b < rows; ++b) {
    const MaskView& v = views_.emplace_back(mask, b, q_pos_, k_pos_);
    for (int64_t qt = 0; qt < q_tiles_; ++qt)
      q_sum_.push_back(summarize_queries(v, q_begin(qt), q_begin(qt) + q_count(qt)));
    for (int64_t kt = 0; kt < k_tiles_; ++kt)
      k_sum_.push_back(summarize_keys(v, k_begin(kt), k_begin(kt) + k_count(kt)));
  }
}

TileKind TilePlan::kind(int64_t b, int64_t qt, int64_t kt) const {
  const int64_t row = per_batch_ ? b : 0;
  return classify_tile(rule_, q_sum_[row * q_tiles_ + qt], k_sum_[row * k_tiles_ + kt]);
}

}  // namespace attnscale::kernels::cpu

// Per-call tiling of a query set against a key set: global positions expanded once, per-tile
// summaries for classification, and the mask of a partial tile written into a score tile.
// Shared by the fused forward/backward and the general path.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/layout.h"
#include "kernels/mask.h"

namespace attnscale::kernels::cpu {

// Row strides of scratch tiles are rounded up to whole 16-float vectors.
inline int64_t round_up(int64_t x, int64_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

class TilePlan {
 public:
  TilePlan(const Mask& mask, const Positions& q_positions, const Positions& k_positions,
           int64_t batch, int64_t q_tile, int64_t k_tile);
  TilePlan(const TilePlan&) = delete;  // views point into the position arrays
  TilePlan& operator=(const TilePlan&) = delete;

  int64_t q_tile() const { return q_tile_; }
  int64_t k_tile() const { return k_tile_; }
  int64_t q_tiles() const { return q_tiles_; }
  int64_t k_tiles() const { return k_tiles_; }
  int64_t q_len() const { return static_cast<int64_t>(q_pos_.size()); }
  int64_t k_len() const { return static_cast<int64_t>(k_pos_.size()); }
  int64_t q_begin(int64_t qt) const { return qt * q_tile_; }
  int64_t q_count(int64_t qt) const { return std::min(q_tile_, q_len() - qt * q_tile_); }
  int64_t k_begin(int64_t kt) const { return kt * k_tile_; }
  int64_t k_count(int64_t kt) const { return std::min(k_tile_, k_len() - kt * k_tile_); }

  TileKind kind(int64_t b, int64_t qt, int64_t kt) const;
  const MaskView& view(int64_t b) const { return views_[per_batch_ ? b : 0]; }

 private:
  MaskRule rule_;
  std::vector<int64_t> q_pos_, k_pos_;
  int64_t q_tile_, k_tile_, q_tiles_, k_tiles_;
  bool per_batch_;                  // per-token parts make summaries depend on the batch row
  std::vector<MaskView> views_;     // [B] or [1]
  std::vector<TileSummary> q_sum_;  // [B or 1][q_tiles]
  std::vector<TileSummary> k_sum_;  // [B or 1][k_tiles]
};

// Sets score[r * ld + c] = -inf where the pair is not allowed. keys_major: rows are keys
// (k0 + r) and columns queries (q0 + c); otherwise rows are queries and columns keys.
template <typename T>
void mask_tile(const MaskView& view, int64_t q0, int64_t nq, int64_t k0, int64_t nk,
               bool keys_major, T* score, int64_t ld) {
  constexpr T neg_inf = -std::numeric_limits<T>::infinity();
  const MaskRule& rule = view.rule;
  if (!rule.blocked && !view.q_segment && !view.k_valid) {
    // Causal and window only: for a fixed row the allowed partners form one interval of global
    // positions, tested branch-free so the loop vectorises.
    constexpr int64_t lowest = std::numeric_limits<int64_t>::min() / 4;
    constexpr int64_t highest = std::numeric_limits<int64_t>::max() / 4;
    const int64_t left = rule.windowed ? rule.window.left : highest;
    const int64_t right = rule.windowed ? rule.window.right : highest;
    const int64_t rows = keys_major ? nk : nq, cols = keys_major ? nq : nk;
    const int64_t* row_pos = keys_major ? view.k_pos + k0 : view.q_pos + q0;
    const int64_t* col_pos = keys_major ? view.q_pos + q0 : view.k_pos + k0;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t p = row_pos[r];
      int64_t lo, hi;  // allowed column positions
      if (keys_major) {  // key p: queries q with p - right <= q <= p + left, and q >= p if causal
        lo = std::max(rule.causal ? p : lowest, p - right);
        hi = p + left;
      } else {  // query p: keys k with p - left <= k <= p + right, and k <= p if causal
        lo = p - left;
        hi = std::min(rule.causal ? p : highest, p + right);
      }
      T* row = score + r * ld;
      for (int64_t c = 0; c < cols; ++c)
        row[c] = (col_pos[c] >= lo && col_pos[c] <= hi) ? row[c] : neg_inf;
    }
    return;
  }
  if (keys_major) {
    for (int64_t r = 0; r < nk; ++r)
      for (int64_t c = 0; c < nq; ++c)
        if (!view.allowed(q0 + c, k0 + r)) score[r * ld + c] = neg_inf;
  } else {
    for (int64_t r = 0; r < nq; ++r)
      for (int64_t c = 0; c < nk; ++c)
        if (!view.allowed(q0 + r, k0 + c)) score[r * ld + c] = neg_inf;
  }
}

}  // namespace attnscale::kernels::cpu

// Host code shared by every backend.
#include "kernels/mask.h"

#include <algorithm>
#include <tuple>

#include "base/error.h"

namespace attnscale::kernels {

void validate_mask(const Mask& mask, int64_t batch, int64_t q_len, int64_t k_len) {
  ATTNSCALE_CHECK(mask.q_segment.empty() == mask.k_segment.empty(), "mask",
                  "segment ids must be given for both queries and keys or for neither");
  if (mask.has_segments()) {
    ATTNSCALE_CHECK(static_cast<int64_t>(mask.q_segment.size()) == batch * q_len, "mask",
                    "q_segment has {} entries, expected batch*q_len = {}", mask.q_segment.size(),
                    batch * q_len);
    ATTNSCALE_CHECK(static_cast<int64_t>(mask.k_segment.size()) == batch * k_len, "mask",
                    "k_segment has {} entries, expected batch*k_len = {}", mask.k_segment.size(),
                    batch * k_len);
  }
  if (mask.has_key_padding())
    ATTNSCALE_CHECK(static_cast<int64_t>(mask.k_valid.size()) == batch * k_len, "mask",
                    "k_valid has {} entries, expected batch*k_len = {}", mask.k_valid.size(),
                    batch * k_len);
  if (mask.window) {
    // The bound keeps q - left and q + right far from int64 overflow.
    constexpr int64_t limit = int64_t{1} << 60;
    ATTNSCALE_CHECK(mask.window->left >= 0 && mask.window->right >= 0 &&
                        mask.window->left <= limit && mask.window->right <= limit,
                    "mask", "window ({}, {}) must lie in [0, 2^60]", mask.window->left,
                    mask.window->right);
  }
}

MaskView::MaskView(const Mask& mask, int64_t batch, std::span<const int64_t> q_pos_,
                   std::span<const int64_t> k_pos_)
    : rule(mask.rule()), q_pos(q_pos_.data()), k_pos(k_pos_.data()) {
  if (mask.has_segments()) {
    q_segment = mask.q_segment.data();
    k_segment = mask.k_segment.data();
  }
  if (mask.has_key_padding()) k_valid = mask.k_valid.data();
  *this = batch_row(batch, static_cast<int64_t>(q_pos_.size()), static_cast<int64_t>(k_pos_.size()));
}

std::vector<int64_t> needed_key_blocks(const Mask& mask, const Positions& queries,
                                       const Positions& keys, int64_t block) {
  ATTNSCALE_CHECK(block >= 1, "mask", "key block size must be >= 1, got {}", block);
  std::vector<int64_t> needed;
  if (queries.size() == 0 || keys.size() == 0) return needed;
  // One summary per query run: strided runs are judged by their extent (conservative).
  std::vector<TileSummary> query_runs;
  for (const auto& run : queries.runs()) {
    TileSummary s;
    s.pos_min = run.start;
    s.pos_max = run.last();
    s.count = s.valid = run.count;
    query_runs.push_back(s);
  }
  const MaskRule rule = mask.rule();
  const int64_t blocks = (keys.size() + block - 1) / block;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * block, end = std::min(keys.size(), begin + block);
    TileSummary k;
    std::tie(k.pos_min, k.pos_max) = keys.range(begin, end);
    k.count = k.valid = end - begin;
    const bool any = std::any_of(query_runs.begin(), query_runs.end(), [&](const TileSummary& q) {
      return classify_positions(rule, q, k) != TileKind::empty;
    });
    if (any) needed.push_back(b);
  }
  return needed;
}

}  // namespace attnscale::kernels

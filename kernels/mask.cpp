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

MaskView::MaskView(const Mask& mask_, int64_t batch, std::span<const int64_t> q_pos_,
                   std::span<const int64_t> k_pos_)
    : mask(&mask_), q_pos(q_pos_.data()), k_pos(k_pos_.data()) {
  const auto n = static_cast<int64_t>(q_pos_.size()), m = static_cast<int64_t>(k_pos_.size());
  if (mask_.has_segments()) {
    q_segment = mask_.q_segment.data() + batch * n;
    k_segment = mask_.k_segment.data() + batch * m;
  }
  if (mask_.has_key_padding()) k_valid = mask_.k_valid.data() + batch * m;
}

namespace {

TileSummary summarize(const int64_t* pos, const int32_t* segment, int64_t begin, int64_t end) {
  TileSummary s;
  s.count = end - begin;
  s.valid = s.count;
  const auto [lo, hi] = std::minmax_element(pos + begin, pos + end);
  s.pos_min = *lo;
  s.pos_max = *hi;
  if (segment) {
    const auto [slo, shi] = std::minmax_element(segment + begin, segment + end);
    s.seg_min = *slo;
    s.seg_max = *shi;
  }
  return s;
}

TileKind combine(TileKind a, TileKind b) {
  if (a == TileKind::empty || b == TileKind::empty) return TileKind::empty;
  if (a == TileKind::full && b == TileKind::full) return TileKind::full;
  return TileKind::partial;
}

TileKind classify_positions(const Mask& mask, const TileSummary& q, const TileSummary& k) {
  TileKind kind = TileKind::full;
  if (mask.causal) {
    if (k.pos_min > q.pos_max) return TileKind::empty;
    if (k.pos_max > q.pos_min) kind = TileKind::partial;
  }
  if (mask.window) {
    // q - k over the tile lies in [d_min, d_max]; allowed differences are [-right, left].
    const int64_t d_min = q.pos_min - k.pos_max, d_max = q.pos_max - k.pos_min;
    if (d_max < -mask.window->right || d_min > mask.window->left) return TileKind::empty;
    if (d_min < -mask.window->right || d_max > mask.window->left) kind = TileKind::partial;
  }
  if (mask.blocks) {
    const BlockPattern& p = *mask.blocks;
    auto block_of = [&](int64_t offset) {
      return offset >= 0 ? offset / p.block_size()
                         : -((-offset + p.block_size() - 1) / p.block_size());
    };
    const int64_t r0 = block_of(q.pos_min - p.q_origin()), r1 = block_of(q.pos_max - p.q_origin());
    const int64_t c0 = block_of(k.pos_min - p.k_origin()), c1 = block_of(k.pos_max - p.k_origin());
    const int64_t allowed = p.count_allowed(r0, r1, c0, c1);
    if (allowed == 0) return TileKind::empty;
    if (allowed != (r1 - r0 + 1) * (c1 - c0 + 1)) kind = TileKind::partial;
  }
  return kind;
}

}  // namespace

TileSummary summarize_queries(const MaskView& view, int64_t begin, int64_t end) {
  return summarize(view.q_pos, view.q_segment, begin, end);
}

TileSummary summarize_keys(const MaskView& view, int64_t begin, int64_t end) {
  TileSummary s = summarize(view.k_pos, view.k_segment, begin, end);
  if (view.k_valid)
    s.valid = std::count_if(view.k_valid + begin, view.k_valid + end,
                            [](int32_t v) { return v != 0; });
  return s;
}

TileKind classify_tile(const Mask& mask, const TileSummary& q, const TileSummary& k) {
  TileKind kind = classify_positions(mask, q, k);
  if (kind == TileKind::empty) return kind;
  if (mask.has_segments()) {
    if (q.seg_max < k.seg_min || k.seg_max < q.seg_min) return TileKind::empty;
    const bool one_segment =
        q.seg_min == q.seg_max && k.seg_min == k.seg_max && q.seg_min == k.seg_min;
    kind = combine(kind, one_segment ? TileKind::full : TileKind::partial);
  }
  if (mask.has_key_padding()) {
    if (k.valid == 0) return TileKind::empty;
    kind = combine(kind, k.valid == k.count ? TileKind::full : TileKind::partial);
  }
  return kind;
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
  const int64_t blocks = (keys.size() + block - 1) / block;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * block, end = std::min(keys.size(), begin + block);
    TileSummary k;
    std::tie(k.pos_min, k.pos_max) = keys.range(begin, end);
    k.count = k.valid = end - begin;
    const bool any = std::any_of(query_runs.begin(), query_runs.end(), [&](const TileSummary& q) {
      return classify_positions(mask, q, k) != TileKind::empty;
    });
    if (any) needed.push_back(b);
  }
  return needed;
}

}  // namespace attnscale::kernels

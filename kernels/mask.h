// Attention masks in *global* positions. A Mask is a plain descriptor that combines (logical AND)
// any of: causal, window(left, right), a block-sparse pattern, segment ids (packed documents) and
// key padding. The fused kernels, the general path and the ring/halo/sparse schedulers all read
// this one descriptor; there is no second copy of mask logic.
//
// It answers three questions:
//   - is the pair allowed:            Mask::allows(q_pos, k_pos) for the positional parts,
//                                     MaskView::allowed(qi, kj) for everything (local indices);
//   - is a tile empty, full or partial: classify_tile(mask, query summary, key summary);
//   - which key blocks a query set needs: needed_key_blocks(mask, queries, keys, block).
//
// The per-pair and per-tile questions are answered by ATTNSCALE_HD code on flat values
// (MaskRule, BlockPatternView, MaskView, TileSummary), so the CPU kernels and the CUDA kernels run
// the same predicates; Mask and BlockPattern own the host-side storage and hand out those views.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kernels/host_device.h"
#include "kernels/layout.h"

namespace attnscale::kernels {

// Key position k is allowed for query position q iff q - left <= k <= q + right.
// window(left, 0) with causal is a sliding window of left + 1 keys.
struct Window {
  int64_t left = 0;
  int64_t right = 0;
};

// The flat form of a BlockPattern: the block matrix and its 2-D prefix sums by pointer.
// BlockPattern::view() points it at the host arrays; a CUDA launcher points it at device copies.
struct BlockPatternView {
  int64_t block_size = 1, rows = 0, cols = 0, q_origin = 0, k_origin = 0;
  const uint8_t* allowed = nullptr;  // rows x cols, row-major, nonzero = the block may attend
  const int64_t* prefix = nullptr;   // (rows+1) x (cols+1) prefix sums of allowed != 0

  ATTNSCALE_HD int64_t block_of(int64_t offset) const {  // floor division: offsets may be < 0
    return offset >= 0 ? offset / block_size : -((-offset + block_size - 1) / block_size);
  }
  ATTNSCALE_HD bool block_allowed(int64_t r, int64_t c) const {
    return r >= 0 && r < rows && c >= 0 && c < cols && allowed[r * cols + c] != 0;
  }
  ATTNSCALE_HD bool allows(int64_t q_pos, int64_t k_pos) const {
    return block_allowed(block_of(q_pos - q_origin), block_of(k_pos - k_origin));
  }
  // Allowed blocks in rows [r0, r1] x cols [c0, c1] (inclusive, clipped to the matrix).
  ATTNSCALE_HD int64_t count_allowed(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    r0 = r0 > 0 ? r0 : 0;
    c0 = c0 > 0 ? c0 : 0;
    r1 = r1 < rows - 1 ? r1 : rows - 1;
    c1 = c1 < cols - 1 ? c1 : cols - 1;
    if (r0 > r1 || c0 > c1) return 0;
    const int64_t w = cols + 1;
    return prefix[(r1 + 1) * w + c1 + 1] - prefix[r0 * w + c1 + 1] - prefix[(r1 + 1) * w + c0] +
           prefix[r0 * w + c0];
  }
};

// A block matrix over global positions: block (r, c) covers query positions
// [q_origin + r*block_size, q_origin + (r+1)*block_size) and key positions likewise from k_origin.
// Positions outside the matrix are not allowed.
class BlockPattern {
 public:
  // allowed: rows * cols entries, row-major, nonzero = the block may attend.
  BlockPattern(int64_t block_size, int64_t rows, int64_t cols, std::vector<uint8_t> allowed,
               int64_t q_origin = 0, int64_t k_origin = 0);

  // Generators, square (blocks x blocks), origins 0. `causal` keeps only blocks c <= r.
  // Sparse Transformer "strided" (Child et al. 2019): the previous `stride` blocks and every
  // stride-th block before them.
  static BlockPattern strided(int64_t block_size, int64_t blocks, int64_t stride, bool causal);
  // Sparse Transformer "fixed": blocks of the same chunk of `stride` blocks, plus the last
  // `summary` blocks of every chunk.
  static BlockPattern fixed(int64_t block_size, int64_t blocks, int64_t stride, int64_t summary,
                            bool causal);
  // Longformer: |r - c| <= window blocks, plus global blocks that attend to and are attended by all.
  static BlockPattern longformer(int64_t block_size, int64_t blocks, int64_t window,
                                 std::span<const int64_t> global_blocks);
  // BigBird: |r - c| <= window, the first `global` blocks global, and `random` extra key blocks
  // per query block drawn from a splitmix64 stream seeded with `seed` (same on every platform).
  static BlockPattern bigbird(int64_t block_size, int64_t blocks, int64_t window, int64_t global,
                              int64_t random, uint64_t seed);

  int64_t block_size() const { return block_size_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t q_origin() const { return q_origin_; }
  int64_t k_origin() const { return k_origin_; }
  BlockPatternView view() const {
    return {block_size_, rows_, cols_, q_origin_, k_origin_, allowed_.data(), prefix_.data()};
  }
  bool block_allowed(int64_t r, int64_t c) const { return view().block_allowed(r, c); }
  bool allows(int64_t q_pos, int64_t k_pos) const { return view().allows(q_pos, k_pos); }
  int64_t count_allowed(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    return view().count_allowed(r0, r1, c0, c1);
  }
  std::span<const uint8_t> allowed() const { return allowed_; }
  std::span<const int64_t> prefix() const { return prefix_; }

 private:
  int64_t block_size_, rows_, cols_, q_origin_, k_origin_;
  std::vector<uint8_t> allowed_;
  std::vector<int64_t> prefix_;  // (rows+1) x (cols+1) 2-D prefix sums of allowed_
};

// The rules of a Mask as plain values (no spans, no shared_ptr): what MaskView, classify_tile and
// the CUDA kernels read. Mask::rule() builds it over host arrays.
struct MaskRule {
  bool causal = false;
  bool windowed = false;
  Window window;
  bool blocked = false;
  BlockPatternView blocks;
  bool segments = false;     // per-token segment ids take part
  bool key_padding = false;  // per-token key validity takes part

  // The positional parts (causal, window, blocks).
  ATTNSCALE_HD bool allows(int64_t q_pos, int64_t k_pos) const {
    if (causal && k_pos > q_pos) return false;
    if (windowed && (k_pos < q_pos - window.left || k_pos > q_pos + window.right)) return false;
    if (blocked && !blocks.allows(q_pos, k_pos)) return false;
    return true;
  }
};

struct Mask {
  bool causal = false;  // k_pos <= q_pos
  std::optional<Window> window;
  std::shared_ptr<const BlockPattern> blocks;  // null: no block-sparse restriction
  // Per-token parts in local order, batch-major: [B, N] for queries, [B, M] for keys. They are
  // views: the arrays must outlive every use of the Mask.
  // Segments: set both or neither; a query attends only keys of its own segment id.
  std::span<const int32_t> q_segment;
  std::span<const int32_t> k_segment;
  // Key padding: nonzero = the key exists. Empty = every key exists.
  std::span<const int32_t> k_valid;

  bool has_segments() const { return !q_segment.empty(); }
  bool has_key_padding() const { return !k_valid.empty(); }
  bool is_none() const {
    return !causal && !window && !blocks && !has_segments() && !has_key_padding();
  }
  MaskRule rule() const {
    MaskRule r;
    r.causal = causal;
    r.windowed = window.has_value();
    if (window) r.window = *window;
    r.blocked = blocks != nullptr;
    if (blocks) r.blocks = blocks->view();
    r.segments = has_segments();
    r.key_padding = has_key_padding();
    return r;
  }
  // The positional parts (causal, window, blocks).
  bool allows(int64_t q_pos, int64_t k_pos) const { return rule().allows(q_pos, k_pos); }
  // A copy for another key shard (ring steps): same positional parts and query segments.
  Mask with_keys(std::span<const int32_t> k_segment_, std::span<const int32_t> k_valid_) const {
    Mask m = *this;
    m.k_segment = k_segment_;
    m.k_valid = k_valid_;
    return m;
  }
};

// Checks the per-token spans against the shapes: [batch, q_len] and [batch, k_len].
void validate_mask(const Mask& mask, int64_t batch, int64_t q_len, int64_t k_len);

// The mask bound to one batch row and to the global positions of N queries and M keys (expanded,
// e.g. by Positions::fill). Cheap to copy, all pointers: the kernels evaluate partial tiles
// through it, the CUDA kernels with device pointers.
struct MaskView {
  MaskRule rule;
  const int64_t* q_pos = nullptr;      // [N]
  const int64_t* k_pos = nullptr;      // [M]
  const int32_t* q_segment = nullptr;  // [N] of this batch row, or null
  const int32_t* k_segment = nullptr;  // [M]
  const int32_t* k_valid = nullptr;    // [M]

  MaskView() = default;
  MaskView(const Mask& mask, int64_t batch, std::span<const int64_t> q_pos,
           std::span<const int64_t> k_pos);

  // The view of batch row `batch` from a view of row 0 ([B, N] / [B, M] per-token arrays).
  ATTNSCALE_HD MaskView batch_row(int64_t batch, int64_t n, int64_t m) const {
    MaskView v = *this;
    if (v.q_segment) v.q_segment += batch * n;
    if (v.k_segment) v.k_segment += batch * m;
    if (v.k_valid) v.k_valid += batch * m;
    return v;
  }

  ATTNSCALE_HD bool allowed(int64_t qi, int64_t kj) const {
    if (q_segment && q_segment[qi] != k_segment[kj]) return false;
    if (k_valid && k_valid[kj] == 0) return false;
    return rule.allows(q_pos[qi], k_pos[kj]);
  }
};

enum class TileKind : uint8_t { empty, partial, full };

// What classification needs to know about the tokens of one side of a tile.
struct TileSummary {
  int64_t pos_min = 0, pos_max = 0;  // global positions
  int32_t seg_min = 0, seg_max = 0;  // segment ids (with segments)
  int64_t count = 0;                 // tokens in the tile
  int64_t valid = 0;                 // keys present (key side, with key padding)
};

// Summary of positions [begin, end) (begin < end) and of their segment ids when `segment` is set.
ATTNSCALE_HD inline TileSummary summarize_tokens(const int64_t* pos, const int32_t* segment,
                                                 int64_t begin, int64_t end) {
  TileSummary s;
  s.count = s.valid = end - begin;
  s.pos_min = s.pos_max = pos[begin];
  for (int64_t i = begin + 1; i < end; ++i) {
    s.pos_min = pos[i] < s.pos_min ? pos[i] : s.pos_min;
    s.pos_max = pos[i] > s.pos_max ? pos[i] : s.pos_max;
  }
  if (segment) {
    s.seg_min = s.seg_max = segment[begin];
    for (int64_t i = begin + 1; i < end; ++i) {
      s.seg_min = segment[i] < s.seg_min ? segment[i] : s.seg_min;
      s.seg_max = segment[i] > s.seg_max ? segment[i] : s.seg_max;
    }
  }
  return s;
}

// Summaries of local indices [begin, end) of the view's queries or keys.
ATTNSCALE_HD inline TileSummary summarize_queries(const MaskView& view, int64_t begin,
                                                  int64_t end) {
  return summarize_tokens(view.q_pos, view.q_segment, begin, end);
}
ATTNSCALE_HD inline TileSummary summarize_keys(const MaskView& view, int64_t begin, int64_t end) {
  TileSummary s = summarize_tokens(view.k_pos, view.k_segment, begin, end);
  if (view.k_valid) {
    s.valid = 0;
    for (int64_t j = begin; j < end; ++j) s.valid += view.k_valid[j] != 0 ? 1 : 0;
  }
  return s;
}

ATTNSCALE_HD inline TileKind combine_tile_kinds(TileKind a, TileKind b) {
  if (a == TileKind::empty || b == TileKind::empty) return TileKind::empty;
  if (a == TileKind::full && b == TileKind::full) return TileKind::full;
  return TileKind::partial;
}

// The positional parts only (causal, window, blocks): what a scheduler without per-token data
// can judge.
ATTNSCALE_HD inline TileKind classify_positions(const MaskRule& rule, const TileSummary& q,
                                                const TileSummary& k) {
  TileKind kind = TileKind::full;
  if (rule.causal) {
    if (k.pos_min > q.pos_max) return TileKind::empty;
    if (k.pos_max > q.pos_min) kind = TileKind::partial;
  }
  if (rule.windowed) {
    // q - k over the tile lies in [d_min, d_max]; allowed differences are [-right, left].
    const int64_t d_min = q.pos_min - k.pos_max, d_max = q.pos_max - k.pos_min;
    if (d_max < -rule.window.right || d_min > rule.window.left) return TileKind::empty;
    if (d_min < -rule.window.right || d_max > rule.window.left) kind = TileKind::partial;
  }
  if (rule.blocked) {
    const BlockPatternView& p = rule.blocks;
    const int64_t r0 = p.block_of(q.pos_min - p.q_origin), r1 = p.block_of(q.pos_max - p.q_origin);
    const int64_t c0 = p.block_of(k.pos_min - p.k_origin), c1 = p.block_of(k.pos_max - p.k_origin);
    const int64_t allowed = p.count_allowed(r0, r1, c0, c1);
    if (allowed == 0) return TileKind::empty;
    if (allowed != (r1 - r0 + 1) * (c1 - c0 + 1)) kind = TileKind::partial;
  }
  return kind;
}

// Exact for contiguous positions; conservative (partial instead of empty/full) when strided
// positions or a block pattern leave gaps. Never wrong: empty means no pair is allowed and full
// means every pair is.
ATTNSCALE_HD inline TileKind classify_tile(const MaskRule& rule, const TileSummary& q,
                                           const TileSummary& k) {
  TileKind kind = classify_positions(rule, q, k);
  if (kind == TileKind::empty) return kind;
  if (rule.segments) {
    if (q.seg_max < k.seg_min || k.seg_max < q.seg_min) return TileKind::empty;
    const bool one_segment =
        q.seg_min == q.seg_max && k.seg_min == k.seg_max && q.seg_min == k.seg_min;
    kind = combine_tile_kinds(kind, one_segment ? TileKind::full : TileKind::partial);
  }
  if (rule.key_padding) {
    if (k.valid == 0) return TileKind::empty;
    kind = combine_tile_kinds(kind, k.valid == k.count ? TileKind::full : TileKind::partial);
  }
  return kind;
}
inline TileKind classify_tile(const Mask& mask, const TileSummary& q, const TileSummary& k) {
  return classify_tile(mask.rule(), q, k);
}

// Which key blocks (consecutive chunks of `block` local keys) may hold an allowed pair for some
// query in `queries`, judged by the positional parts only (per-token parts are data a scheduler
// may not have, so they count as allowing). Indices ascending. With block >= keys.size() this
// says whether a whole remote shard is needed at all.
std::vector<int64_t> needed_key_blocks(const Mask& mask, const Positions& queries,
                                       const Positions& keys, int64_t block);

}  // namespace attnscale::kernels

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
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kernels/layout.h"

namespace attnscale::kernels {

// Key position k is allowed for query position q iff q - left <= k <= q + right.
// window(left, 0) with causal is a sliding window of left + 1 keys.
struct Window {
  int64_t left = 0;
  int64_t right = 0;
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
  bool block_allowed(int64_t r, int64_t c) const {
    return r >= 0 && r < rows_ && c >= 0 && c < cols_ && allowed_[r * cols_ + c] != 0;
  }
  bool allows(int64_t q_pos, int64_t k_pos) const {
    return block_allowed(block_of(q_pos - q_origin_), block_of(k_pos - k_origin_));
  }
  // Allowed blocks in rows [r0, r1] x cols [c0, c1] (inclusive, clipped to the matrix).
  int64_t count_allowed(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const;
  std::span<const uint8_t> allowed() const { return allowed_; }

 private:
  int64_t block_of(int64_t offset) const {  // floor division: offsets may be negative
    return offset >= 0 ? offset / block_size_ : -((-offset + block_size_ - 1) / block_size_);
  }
  int64_t block_size_, rows_, cols_, q_origin_, k_origin_;
  std::vector<uint8_t> allowed_;
  std::vector<int64_t> prefix_;  // (rows+1) x (cols+1) 2-D prefix sums of allowed_
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
  // The positional parts (causal, window, blocks).
  bool allows(int64_t q_pos, int64_t k_pos) const {
    if (causal && k_pos > q_pos) return false;
    if (window && (k_pos < q_pos - window->left || k_pos > q_pos + window->right)) return false;
    if (blocks && !blocks->allows(q_pos, k_pos)) return false;
    return true;
  }
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
// e.g. by Positions::fill). Cheap to copy; the kernels evaluate partial tiles through it.
struct MaskView {
  const Mask* mask = nullptr;
  const int64_t* q_pos = nullptr;  // [N]
  const int64_t* k_pos = nullptr;  // [M]
  const int32_t* q_segment = nullptr;  // [N] of this batch row, or null
  const int32_t* k_segment = nullptr;  // [M]
  const int32_t* k_valid = nullptr;    // [M]

  MaskView(const Mask& mask, int64_t batch, std::span<const int64_t> q_pos,
           std::span<const int64_t> k_pos);

  bool allowed(int64_t qi, int64_t kj) const {
    if (q_segment && q_segment[qi] != k_segment[kj]) return false;
    if (k_valid && k_valid[kj] == 0) return false;
    return mask->allows(q_pos[qi], k_pos[kj]);
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

// Summaries of local indices [begin, end) of the view's queries or keys.
TileSummary summarize_queries(const MaskView& view, int64_t begin, int64_t end);
TileSummary summarize_keys(const MaskView& view, int64_t begin, int64_t end);

// Exact for contiguous positions; conservative (partial instead of empty/full) when strided
// positions or a block pattern leave gaps. Never wrong: empty means no pair is allowed and full
// means every pair is.
TileKind classify_tile(const Mask& mask, const TileSummary& queries, const TileSummary& keys);

// Which key blocks (consecutive chunks of `block` local keys) may hold an allowed pair for some
// query in `queries`, judged by the positional parts only (per-token parts are data a scheduler
// may not have, so they count as allowing). Indices ascending. With block >= keys.size() this
// says whether a whole remote shard is needed at all.
std::vector<int64_t> needed_key_blocks(const Mask& mask, const Positions& queries,
                                       const Positions& keys, int64_t block);

}  // namespace attnscale::kernels

// Luong local attention (1508.04025, 3.2) on raw buffers, a block of consecutive queries at a
// time (matrix products against the hull of their windows), over source rows that may sit in
// several buffers (this rank's shard and the rows fetched from other ranks).
// Internal to distributed/context_parallel; the autograd op is local_halo.h.
//
// The numbers are those of framework/attention/local.cpp: source position s is in the window of
// a query with centre p when |T(s) - p| <= D (evaluated in the element type T, as local.cpp's
// tensor ops do) and s < S_b (padding); the weights are the softmax of the scores q . k_s over
// the window, times exp(-(s - p)^2 / (2 sigma^2)) for local-p. The window's edge is a hard cut
// (no gradient); the Gaussian carries the gradient to p.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace attnscale::sp {

// Global source positions [first, last] of one window; empty when first > last.
struct WindowBounds {
  int64_t first = 0;
  int64_t last = -1;
  bool empty() const { return first > last; }
};

// The window of centre p (finite) with half-width D >= 1 over source positions [0, source_length).
template <typename T>
WindowBounds window_bounds(T centre, int64_t half_width, int64_t source_length);

// Local-m's centre for the query at global position t: t clamped to the last real source
// position (a target longer than its source still has a window).
inline int64_t monotonic_centre(int64_t t, int64_t source_length) { return t < source_length ? t : source_length - 1; }

// Source rows at global positions [begin, begin + rows): K [B, rows, D], V [B, rows, Dv]; dk, dv
// (same shapes) receive gradients in the backward (added to).
template <typename T>
struct SourceSegment {
  int64_t begin = 0, rows = 0;
  std::span<const T> k, v;
  std::span<T> dk, dv;
};

// This rank's queries: q [B, n, D], centres and windows [B, n] (centres empty = local-m, which
// has no Gaussian and no centre gradient).
template <typename T>
struct LocalQueries {
  int64_t batch = 0, count = 0, head_dim = 0, value_dim = 0;
  std::span<const T> q;
  std::span<const T> centres;
  std::span<const WindowBounds> windows;
  int64_t half_width = 1;  // D
  double sigma = 1;        // local-p Gaussian width
  bool gaussian() const { return !centres.empty(); }
};

// Consecutive queries [first, first + count) of one sequence (query = b * n + i) computed
// together: their scores against the hull of their windows are one matrix product per segment.
struct QueryBlock {
  int64_t first = 0, count = 0;
  WindowBounds hull;
};

// The queries for which keep(query) holds, in order, cut into blocks of at most `max_queries`
// whose hull stays within max_queries + 2 window widths (windows far apart, as local-p's
// centres may be, end a block instead of widening it).
std::vector<QueryBlock> query_blocks(std::span<const WindowBounds> windows, int64_t per_sequence, int64_t half_width,
                                     int64_t max_queries, const std::function<bool(int64_t)>& keep);

template <typename T>
struct BlockScratch {
  std::vector<T> softmax, gauss, weights, dweights;  // [count, hull width] each
};

// Segments sorted by begin, non-overlapping, covering the block's hull. out: [B, n, Dv] of all
// queries; the block's rows are overwritten.
template <typename T>
void local_block_forward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, const QueryBlock& block,
                         std::span<T> out, BlockScratch<T>& scratch);

// Gradients of the block's reads: its rows of dq [B, n, D] and dcentres [B, n] (local-p; empty
// for local-m) are overwritten, its windows' dK/dV added into the segments.
template <typename T>
void local_block_backward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments,
                          const QueryBlock& block, std::span<const T> dout, std::span<T> dq, std::span<T> dcentres,
                          BlockScratch<T>& scratch);

}  // namespace attnscale::sp

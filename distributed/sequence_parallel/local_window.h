// Luong local attention (1508.04025, 3.2) on raw buffers, one query at a time, over source rows
// that may sit in several buffers (this rank's shard and the rows fetched from other ranks).
// Internal to distributed/sequence_parallel; the autograd op is local_halo.h.
//
// The numbers are those of framework/attention/local.cpp: source position s is in the window of
// a query with centre p when |T(s) - p| <= D (evaluated in the element type T, as local.cpp's
// tensor ops do) and s < S_b (padding); the weights are the softmax of the scores q . k_s over
// the window, times exp(-(s - p)^2 / (2 sigma^2)) for local-p. The window's edge is a hard cut
// (no gradient); the Gaussian carries the gradient to p.
#pragma once

#include <cstdint>
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
  double sigma = 1;  // local-p Gaussian width
  bool gaussian() const { return !centres.empty(); }
};

// Segments sorted by begin, non-overlapping, covering every window of the queries computed.
// query = b * count + i. out: [Dv] of that query (overwritten). `scratch` is reused between calls.
template <typename T>
void local_query_forward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t query,
                         std::span<T> out, std::vector<T>& scratch);

// Gradients of one query's read: dq [D] and dcentre (overwritten; dcentre only for local-p), its
// rows' dK/dV added into the segments. `scratch` is reused between calls.
template <typename T>
void local_query_backward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t query,
                          std::span<const T> dout, std::span<T> dq, T* dcentre, std::vector<T>& scratch);

}  // namespace attnscale::sp

// Luong local attention on raw buffers (see local_window.h).
#include "distributed/context_parallel/local_window.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/gemm.h"
#include "kernels/softmax.h"

namespace attnscale::sp {
namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

// Calls fn(column, rows, k, v, dk, dv) for each piece of the block's hull that a segment holds:
// hull columns [column, column + rows), the piece's K/V rows of sequence b (row stride D / Dv);
// dk / dv are null when the segment carries no gradient buffers.
template <typename T, typename Fn>
void for_each_piece(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, const QueryBlock& block,
                    Fn&& fn) {
  const int64_t b = block.first / in.count, d = in.head_dim, dv = in.value_dim;
  for (const SourceSegment<T>& seg : segments) {
    const int64_t first = std::max(block.hull.first, seg.begin);
    const int64_t last = std::min(block.hull.last, seg.begin + seg.rows - 1);
    if (first > last) continue;
    const int64_t row = b * seg.rows + (first - seg.begin);
    fn(first - block.hull.first, last - first + 1, seg.k.data() + row * d, seg.v.data() + row * dv,
       seg.dk.empty() ? nullptr : seg.dk.data() + row * d, seg.dv.empty() ? nullptr : seg.dv.data() + row * dv);
  }
}

// scratch.softmax: the softmax over each query's window of its scores (0 outside the window).
// Local-p: scratch.gauss, the Gaussian factors, and scratch.weights, the product; local-m's
// weights are the softmax itself (block_read_weights).
template <typename T>
void block_weights(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, const QueryBlock& block,
                   BlockScratch<T>& scratch) {
  const int64_t width = block.hull.last - block.hull.first + 1, d = in.head_dim;
  const size_t cells = at(block.count * width);
  scratch.softmax.assign(cells, T{0});
  const T* q = in.q.data() + block.first * d;
  for_each_piece(in, segments, block, [&](int64_t column, int64_t rows, const T* k, const T*, T*, T*) {
    kernels::gemm<T>(false, true, block.count, rows, d, T{1}, q, d, k, d, T{0}, scratch.softmax.data() + column, width);
  });
  if (in.gaussian()) {
    scratch.gauss.assign(cells, T{0});
    scratch.weights.assign(cells, T{0});
  }
  const T neg_inv_two_var = static_cast<T>(-1.0 / (2.0 * in.sigma * in.sigma));
  for (int64_t i = 0; i < block.count; ++i) {
    const int64_t query = block.first + i;
    const WindowBounds& window = in.windows[at(query)];
    const int64_t begin = window.first - block.hull.first, end = window.last - block.hull.first + 1;
    T* a = scratch.softmax.data() + i * width;
    std::fill(a, a + begin, T{0});
    std::fill(a + end, a + width, T{0});
    kernels::softmax_rows<T>(a + begin, 1, end - begin, a + begin, false);
    if (!in.gaussian()) continue;
    T* g = scratch.gauss.data() + i * width;
    T* w = scratch.weights.data() + i * width;
    const T centre = in.centres[at(query)];
    for (int64_t j = begin; j < end; ++j) {
      const T distance = static_cast<T>(block.hull.first + j) - centre;
      g[j] = std::exp(distance * distance * neg_inv_two_var);
      w[j] = a[j] * g[j];
    }
  }
}

template <typename T>
const std::vector<T>& block_read_weights(const LocalQueries<T>& in, const BlockScratch<T>& scratch) {
  return in.gaussian() ? scratch.weights : scratch.softmax;
}

}  // namespace

template <typename T>
WindowBounds window_bounds(T centre, int64_t half_width, int64_t source_length) {
  const double p = static_cast<double>(centre), reach = static_cast<double>(half_width);
  // Far outside the source (or NaN): no position can be inside; also keeps the casts below in range.
  if (!(p + reach >= -1.0 && p - reach <= static_cast<double>(source_length))) return {};
  WindowBounds window{std::max<int64_t>(0, static_cast<int64_t>(std::floor(p - reach)) - 1),
                      std::min<int64_t>(source_length - 1, static_cast<int64_t>(std::ceil(p + reach)) + 1)};
  // local.cpp's test, in T: a position is outside when |s - p| > D.
  const auto inside = [&](int64_t s) { return !(std::abs(static_cast<T>(s) - centre) > static_cast<T>(half_width)); };
  while (!window.empty() && !inside(window.first)) ++window.first;
  while (!window.empty() && !inside(window.last)) --window.last;
  return window;
}

std::vector<QueryBlock> query_blocks(std::span<const WindowBounds> windows, int64_t per_sequence, int64_t half_width,
                                     int64_t max_queries, const std::function<bool(int64_t)>& keep) {
  const int64_t max_width = max_queries + 2 * (2 * half_width + 1);
  std::vector<QueryBlock> blocks;
  QueryBlock open;
  for (int64_t query = 0; query < static_cast<int64_t>(windows.size()); ++query) {
    if (!keep(query)) continue;
    const WindowBounds& w = windows[at(query)];
    const WindowBounds hull{std::min(open.hull.first, w.first), std::max(open.hull.last, w.last)};
    const bool joins = open.count > 0 && open.count < max_queries && query == open.first + open.count &&
                       query / per_sequence == open.first / per_sequence && hull.last - hull.first < max_width;
    if (joins) {
      ++open.count;
      open.hull = hull;
      continue;
    }
    if (open.count > 0) blocks.push_back(open);
    open = QueryBlock{query, 1, w};
  }
  if (open.count > 0) blocks.push_back(open);
  return blocks;
}

template <typename T>
void local_block_forward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, const QueryBlock& block,
                         std::span<T> out, BlockScratch<T>& scratch) {
  block_weights(in, segments, block, scratch);
  const int64_t width = block.hull.last - block.hull.first + 1, dv = in.value_dim;
  T* out_rows = out.data() + block.first * dv;
  std::fill(out_rows, out_rows + block.count * dv, T{0});
  for_each_piece(in, segments, block, [&](int64_t column, int64_t rows, const T*, const T* v, T*, T*) {
    kernels::gemm<T>(false, false, block.count, dv, rows, T{1}, block_read_weights(in, scratch).data() + column, width,
                     v, dv, T{1}, out_rows, dv);
  });
}

template <typename T>
void local_block_backward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments,
                          const QueryBlock& block, std::span<const T> dout, std::span<T> dq, std::span<T> dcentres,
                          BlockScratch<T>& scratch) {
  block_weights(in, segments, block, scratch);
  const int64_t width = block.hull.last - block.hull.first + 1, d = in.head_dim, dv = in.value_dim;
  const T* dout_rows = dout.data() + block.first * dv;
  const T* q_rows = in.q.data() + block.first * d;
  // d loss / d weight = dout . v_s; dV += weights^T dout.
  scratch.dweights.assign(at(block.count * width), T{0});
  for_each_piece(in, segments, block, [&](int64_t column, int64_t rows, const T*, const T* v, T*, T* dv_rows) {
    kernels::gemm<T>(false, true, block.count, rows, dv, T{1}, dout_rows, dv, v, dv, T{0},
                     scratch.dweights.data() + column, width);
    kernels::gemm<T>(true, false, rows, dv, block.count, T{1}, block_read_weights(in, scratch).data() + column, width,
                     dout_rows, dv, T{1}, dv_rows, dv);
  });
  // weight = a g: da = dw g; dp = sum dw a dg/dp with dg/dp = g (s - p) / sigma^2. Softmax:
  // dscore = a (da - sum_r a_r da_r). dscore overwrites dweights.
  const T inv_var = static_cast<T>(1.0 / (in.sigma * in.sigma));
  for (int64_t i = 0; i < block.count; ++i) {
    const int64_t query = block.first + i;
    const T* a = scratch.softmax.data() + i * width;
    T* dw = scratch.dweights.data() + i * width;
    T softmax_dot = 0;
    if (in.gaussian()) {
      const T* g = scratch.gauss.data() + i * width;
      const T centre = in.centres[at(query)];
      T dp = 0;
      for (int64_t j = 0; j < width; ++j) {
        dp += dw[j] * a[j] * g[j] * (static_cast<T>(block.hull.first + j) - centre) * inv_var;
        dw[j] *= g[j];
      }
      dcentres[at(query)] = dp;
    }
    for (int64_t j = 0; j < width; ++j) softmax_dot += a[j] * dw[j];
    for (int64_t j = 0; j < width; ++j) dw[j] = a[j] * (dw[j] - softmax_dot);
  }
  // dq = dscore K; dK += dscore^T q.
  T* dq_rows = dq.data() + block.first * d;
  std::fill(dq_rows, dq_rows + block.count * d, T{0});
  for_each_piece(in, segments, block, [&](int64_t column, int64_t rows, const T* k, const T*, T* dk_rows, T*) {
    kernels::gemm<T>(false, false, block.count, d, rows, T{1}, scratch.dweights.data() + column, width, k, d, T{1},
                     dq_rows, d);
    kernels::gemm<T>(true, false, rows, d, block.count, T{1}, scratch.dweights.data() + column, width, q_rows, d, T{1},
                     dk_rows, d);
  });
}

#define ATTNSCALE_INSTANTIATE(T)                                                                                      \
  template WindowBounds window_bounds<T>(T, int64_t, int64_t);                                                        \
  template void local_block_forward<T>(const LocalQueries<T>&, std::span<const SourceSegment<T>>, const QueryBlock&,  \
                                       std::span<T>, BlockScratch<T>&);                                               \
  template void local_block_backward<T>(const LocalQueries<T>&, std::span<const SourceSegment<T>>, const QueryBlock&, \
                                        std::span<const T>, std::span<T>, std::span<T>, BlockScratch<T>&);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace attnscale::sp

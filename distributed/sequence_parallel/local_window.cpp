// Luong local attention on raw buffers (see local_window.h).
#include "distributed/sequence_parallel/local_window.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnscale::sp {
namespace {

// Calls fn(s, k_row, v_row, dk_row, dv_row) for every position s of `window` in sequence b, in
// increasing order; dk_row / dv_row are null when the segment carries no gradient buffers.
template <typename T, typename Fn>
void for_each_row(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t b,
                  const WindowBounds& window, Fn&& fn) {
  const int64_t d = in.head_dim, dv = in.value_dim;
  for (const SourceSegment<T>& seg : segments) {
    const int64_t first = std::max(window.first, seg.begin), last = std::min(window.last, seg.begin + seg.rows - 1);
    for (int64_t s = first; s <= last; ++s) {
      const int64_t row = b * seg.rows + (s - seg.begin);
      fn(s, seg.k.data() + row * d, seg.v.data() + row * dv, seg.dk.empty() ? nullptr : seg.dk.data() + row * d,
         seg.dv.empty() ? nullptr : seg.dv.data() + row * dv);
    }
  }
}

template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  T sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

// Softmax weights a_s over the window into scratch[0, n) and the Gaussian factors g_s (1 for
// local-m) into scratch[n, 2n).
template <typename T>
void window_weights(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t query,
                    std::vector<T>& scratch) {
  const WindowBounds& window = in.windows[static_cast<size_t>(query)];
  const int64_t b = query / in.count, n = window.last - window.first + 1;
  scratch.assign(static_cast<size_t>(2 * n), T{0});
  const T* q = in.q.data() + query * in.head_dim;
  T top = -std::numeric_limits<T>::infinity();
  for_each_row(in, segments, b, window, [&](int64_t s, const T* k, const T*, T*, T*) {
    const T score = dot(q, k, in.head_dim);
    scratch[static_cast<size_t>(s - window.first)] = score;
    top = std::max(top, score);
  });
  T total = 0;
  for (int64_t j = 0; j < n; ++j)
    total += scratch[static_cast<size_t>(j)] = std::exp(scratch[static_cast<size_t>(j)] - top);
  const T centre = in.gaussian() ? in.centres[static_cast<size_t>(query)] : T{0};
  const T neg_inv_two_var = static_cast<T>(-1.0 / (2.0 * in.sigma * in.sigma));
  for (int64_t j = 0; j < n; ++j) {
    scratch[static_cast<size_t>(j)] /= total;
    const T distance = static_cast<T>(window.first + j) - centre;
    scratch[static_cast<size_t>(n + j)] = in.gaussian() ? std::exp(distance * distance * neg_inv_two_var) : T{1};
  }
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

template <typename T>
void local_query_forward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t query,
                         std::span<T> out, std::vector<T>& scratch) {
  window_weights(in, segments, query, scratch);
  const WindowBounds& window = in.windows[static_cast<size_t>(query)];
  const int64_t n = window.last - window.first + 1;
  std::fill(out.begin(), out.end(), T{0});
  for_each_row(in, segments, query / in.count, window, [&](int64_t s, const T*, const T* v, T*, T*) {
    const auto j = static_cast<size_t>(s - window.first);
    const T weight = scratch[j] * scratch[static_cast<size_t>(n) + j];
    for (int64_t e = 0; e < in.value_dim; ++e) out[static_cast<size_t>(e)] += weight * v[e];
  });
}

template <typename T>
void local_query_backward(const LocalQueries<T>& in, std::span<const SourceSegment<T>> segments, int64_t query,
                          std::span<const T> dout, std::span<T> dq, T* dcentre, std::vector<T>& scratch) {
  window_weights(in, segments, query, scratch);
  const WindowBounds& window = in.windows[static_cast<size_t>(query)];
  const int64_t b = query / in.count, n = window.last - window.first + 1;
  const auto un = static_cast<size_t>(n);
  scratch.resize(3 * un);  // [2n, 3n): d loss / d softmax weight
  const T* q = in.q.data() + query * in.head_dim;
  const T centre = in.gaussian() ? in.centres[static_cast<size_t>(query)] : T{0};
  const T inv_var = static_cast<T>(1.0 / (in.sigma * in.sigma));
  // weight w = a g: dw = dout . v; dv += w dout; da = dw g; dp += dw a dg/dp, dg/dp = g (s - p) / sigma^2.
  T softmax_dot = 0, dp = 0;
  for_each_row(in, segments, b, window, [&](int64_t s, const T*, const T* v, T*, T* dv) {
    const auto j = static_cast<size_t>(s - window.first);
    const T a = scratch[j], g = scratch[un + j];
    const T dw = dot(dout.data(), v, in.value_dim);
    for (int64_t e = 0; e < in.value_dim; ++e) dv[e] += a * g * dout[static_cast<size_t>(e)];
    scratch[2 * un + j] = dw * g;
    softmax_dot += a * dw * g;
    dp += dw * a * g * (static_cast<T>(s) - centre) * inv_var;
  });
  // Softmax: de_s = a_s (da_s - sum_r a_r da_r); scores q . k_s.
  std::fill(dq.begin(), dq.end(), T{0});
  for_each_row(in, segments, b, window, [&](int64_t s, const T* k, const T*, T* dk, T*) {
    const auto j = static_cast<size_t>(s - window.first);
    const T de = scratch[j] * (scratch[2 * un + j] - softmax_dot);
    for (int64_t e = 0; e < in.head_dim; ++e) {
      dq[static_cast<size_t>(e)] += de * k[e];
      dk[e] += de * q[e];
    }
  });
  if (dcentre != nullptr) *dcentre = in.gaussian() ? dp : T{0};
}

#define ATTNSCALE_INSTANTIATE(T)                                                                            \
  template WindowBounds window_bounds<T>(T, int64_t, int64_t);                                              \
  template void local_query_forward<T>(const LocalQueries<T>&, std::span<const SourceSegment<T>>, int64_t,  \
                                       std::span<T>, std::vector<T>&);                                      \
  template void local_query_backward<T>(const LocalQueries<T>&, std::span<const SourceSegment<T>>, int64_t, \
                                        std::span<const T>, std::span<T>, T*, std::vector<T>&);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace attnscale::sp

// CPU optimizer kernels: one pass per parameter over fixed blocks (threads take whole blocks), each
// block in SIMD lane groups written with std::experimental::simd. Explicit SIMD rather than
// auto-vectorisation because GCC 12 leaves the Adam loop scalar (std::sqrt may set errno, and the
// loops it outlines for `omp parallel` were not vectorised either): that was 4-5x slower.
//
// Every element runs through the same instructions (a block's last partial lane group runs on
// zero-padded copies), so results do not depend on the thread count or on where a chunk starts.
#include "kernels/optim.h"
#include "kernels/optim_math.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// GCC 12 flags the _mm512_undefined_ps() inside its own AVX-512 sqrt intrinsic as (maybe-)uninitialized
// once inlined here: a false positive in a system header (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <experimental/simd>
#pragma GCC diagnostic pop
#else
#include <experimental/simd>
#endif

namespace attnscale::kernels {
namespace {
namespace stdx = std::experimental;
template <typename T>
using Vec = stdx::native_simd<T>;

constexpr int64_t kBlock = int64_t{1} << 14;              // elements per work item; a multiple of any lane count
constexpr int64_t kParallelThreshold = int64_t{1} << 16;  // below this, threads cost more than they save

template <typename T>
Vec<T> load(const T* p) {
  return Vec<T>(p, stdx::element_aligned);
}
template <typename T>
void store(const Vec<T>& v, T* p) {
  v.copy_to(p, stdx::element_aligned);
}

// Calls lanes(ptrs + i...) for each full lane group of [begin, end), then once on zero-padded
// copies of the remainder, copying the non-const arrays back.
template <typename T, typename Lanes, typename... Elems>
void for_lane_groups(int64_t begin, int64_t end, const Lanes& lanes, Elems*... ptrs) {
  constexpr int64_t width = Vec<T>::size();
  int64_t i = begin;
  for (; i + width <= end; i += width) lanes((ptrs + i)...);
  const int64_t rest = end - i;
  if (rest == 0) return;
  std::tuple<std::array<std::remove_const_t<Elems>, width>...> pads{};
  [&]<size_t... I>(std::index_sequence<I...>) {
    (std::copy_n(ptrs + i, rest, std::get<I>(pads).data()), ...);
    lanes(std::get<I>(pads).data()...);
    const auto copy_back = [&](auto* dst, const auto& pad) {
      if constexpr (!std::is_const_v<std::remove_pointer_t<decltype(dst)>>) std::copy_n(pad.data(), rest, dst + i);
    };
    (copy_back(ptrs, std::get<I>(pads)), ...);
  }(std::index_sequence_for<Elems...>{});
}

// Splits [0, n) into kBlock blocks, shared out among threads when n is large.
template <typename T, typename Lanes, typename... Elems>
void for_blocks(int64_t n, const Lanes& lanes, Elems*... ptrs) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b)
    for_lane_groups<T>(b * kBlock, std::min(n, (b + 1) * kBlock), lanes, ptrs...);
}
}  // namespace

template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdStep& step) {
  const SgdScalars<T> s(step);
  if (step.momentum == 0) {
    for_blocks<T>(
        n,
        [&](T* p, const T* g) {
          Vec<T> pv = load(p);
          sgd_element(s, pv, load(g));
          store(pv, p);
        },
        param, grad);
    return;
  }
  for_blocks<T>(
      n,
      [&](T* p, const T* g, T* b) {
        Vec<T> pv = load(p), buf = load(b);
        sgd_momentum_element(s, pv, load(g), buf);
        store(buf, b);
        store(pv, p);
      },
      param, grad, momentum_buf);
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamStep& step) {
  const AdamScalars<T> s(step);
  for_blocks<T>(
      n,
      [&](T* p, const T* g, T* m, T* v) {
        Vec<T> pv = load(p), mv = load(m), vv = load(v);
        adam_element(s, pv, load(g), mv, vv, [](const Vec<T>& x) { return stdx::sqrt(x); });
        store(mv, m);
        store(vv, v);
        store(pv, p);
      },
      param, grad, exp_avg, exp_avg_sq);
}

template <typename T>
double sum_of_squares(int64_t n, const T* x) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> block_sums(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b) {
    Vec<double> acc = 0;
    for_lane_groups<double>(b * kBlock, std::min(n, (b + 1) * kBlock), [&](const T* xs) {
      std::array<double, Vec<double>::size()> wide;
      for (size_t k = 0; k < wide.size(); ++k) wide[k] = static_cast<double>(xs[k]);
      const Vec<double> xv = load(wide.data());
      acc += xv * xv;
    }, x);
    block_sums[static_cast<size_t>(b)] = stdx::reduce(acc);
  }
  double total = 0;  // blocks in order: the same sum for any thread count
  for (const double s : block_sums) total += s;
  return total;
}

template <typename T>
int64_t first_non_finite(int64_t n, const T* x) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

#define INSTANTIATE(T)                                                          \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const SgdStep&);       \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, const AdamStep&); \
  template double sum_of_squares<T>(int64_t, const T*);                         \
  template int64_t first_non_finite<T>(int64_t, const T*);
INSTANTIATE(float)
INSTANTIATE(double)
#undef INSTANTIATE

}  // namespace attnscale::kernels

// The SIMD kernels' algorithms, once for every instruction set: included only by simd_avx512.cpp
// and simd_avx2.cpp, each compiled with its own target flags and passing its vector type V:
//   V::Reg, V::Mask, V::kWidth (floats per register), V::kGemmVectors (registers per GEMM row),
//   V::tail(n) (the first min(n, kWidth) lanes), V::all(), load / masked load (zeroes the other
//   lanes) / masked store, set1, zero, add, sub, mul, fmadd(a, b, c) = a * b + c,
//   fmsub(a, b, c) = a * b - c, fnmadd(a, b, c) = c - a * b, min, round (to nearest even),
//   at_least(x, bound) (a lane mask), scale_live (exp_vec).
// Everything here has internal linkage (an unnamed namespace), so the two variants' copies never
// meet at link time: a linker that picked the AVX-512 copy of a shared inline function for the
// AVX2 path would crash a CPU without AVX-512.
//
// Every variant computes each output element with the same operations in the same order (GEMM:
// one fused multiply-add per k, k ascending; exp: the same polynomial), so the variants agree
// bit for bit except sum_of_squares, whose lane count sets the summation order.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
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

#include "kernels/cpu/simd_kernels.h"
#include "kernels/optim_math.h"

namespace attnscale::kernels::cpu {
namespace {

// ---- exp (kernels/cpu/vec_exp.h) ---------------------------------------------------------------
// Cody-Waite range reduction and a degree-6 polynomial, relative error below 2e-7; exactly 0 below
// -87.3 (masked scores of -inf must vanish, not become 1e-38). V::scale_live(live, p, n) is p * 2^n
// in the lanes `live` holds, 0 in the others.
template <typename V>
typename V::Reg exp_vec(typename V::Reg x) {
  const auto live = V::at_least(x, -87.3f);  // NaN is not live either
  x = V::min(x, V::set1(88.7f));
  const auto n = V::round(V::mul(x, V::set1(1.44269504089f)));
  auto r = V::fnmadd(n, V::set1(0.693359375f), x);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  auto p = V::set1(1.0f / 720.0f);
  p = V::fmadd(p, r, V::set1(1.0f / 120.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 24.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 6.0f));
  p = V::fmadd(p, r, V::set1(0.5f));
  p = V::fmadd(p, r, V::set1(1.0f));
  p = V::fmadd(p, r, V::set1(1.0f));
  return V::scale_live(live, p, n);
}

template <typename V>
void exp_shift_accumulate(float* x, const float* shift, float* sum, int64_t n) {
  for (int64_t i = 0; i < n; i += V::kWidth) {
    const auto m = V::tail(n - i);
    const auto e = exp_vec<V>(V::sub(V::load(x + i, m), V::load(shift + i, m)));
    V::store(x + i, e, m);
    V::store(sum + i, V::add(V::load(sum + i, m), e), m);
  }
}

template <typename V>
void exp_scale_shift(float* x, float scale, float shift, int64_t n) {
  const auto s = V::set1(scale), sh = V::set1(shift);
  for (int64_t i = 0; i < n; i += V::kWidth) {
    const auto m = V::tail(n - i);
    V::store(x + i, exp_vec<V>(V::fmsub(V::load(x + i, m), s, sh)), m);
  }
}

template <typename V>
void exp_array(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += V::kWidth) {
    const auto m = V::tail(n - i);
    V::store(y + i, exp_vec<V>(V::load(x + i, m)), m);
  }
}

// ---- tile GEMM (kernels/cpu/tile_gemm.h) ------------------------------------------------------
constexpr int kGemmRows = 6;  // rows per register block

// One register block: R rows x W registers; the last register's columns are limited by `tail`.
template <typename V, int R, int W>
void gemm_block(int64_t depth, const float* a, int64_t a_row, int64_t a_k, const float* b, int64_t ldb, float* c,
                int64_t ldc, bool accumulate, typename V::Mask tail) {
  typename V::Reg acc[R][W];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w)
      acc[r][w] = accumulate ? V::load(c + r * ldc + V::kWidth * w, w == W - 1 ? tail : V::all()) : V::zero();
  const float* a_rows[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) a_rows[r] = a + r * a_row;
  for (int64_t k = 0; k < depth; ++k) {
    typename V::Reg bv[W];
#pragma GCC unroll 4
    for (int w = 0; w < W - 1; ++w) bv[w] = V::load(b + V::kWidth * w);
    bv[W - 1] = V::load(b + V::kWidth * (W - 1), tail);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const auto av = V::set1(*a_rows[r]);
      a_rows[r] += a_k;
#pragma GCC unroll 4
      for (int w = 0; w < W; ++w) acc[r][w] = V::fmadd(av, bv[w], acc[r][w]);
    }
    b += ldb;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) V::store(c + r * ldc + V::kWidth * w, acc[r][w], w == W - 1 ? tail : V::all());
}

template <typename V>
using GemmBlock = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, bool,
                           typename V::Mask);

template <typename V, int R, int... W>
constexpr std::array<GemmBlock<V>, V::kGemmVectors> gemm_row_of_blocks(std::integer_sequence<int, W...>) {
  return {&gemm_block<V, R, W + 1>...};
}

template <typename V, int... R>
constexpr std::array<std::array<GemmBlock<V>, V::kGemmVectors>, kGemmRows> gemm_block_table(
    std::integer_sequence<int, R...>) {
  return {gemm_row_of_blocks<V, R + 1>(std::make_integer_sequence<int, V::kGemmVectors>{})...};
}

template <typename V>
void tile_gemm(int64_t rows, int64_t cols, int64_t depth, const float* a, int64_t a_row, int64_t a_k, const float* b,
               int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  static constexpr auto blocks = gemm_block_table<V>(std::make_integer_sequence<int, kGemmRows>{});
  constexpr int64_t panel = int64_t{V::kWidth} * V::kGemmVectors;
  for (int64_t c0 = 0; c0 < cols; c0 += panel) {
    const int64_t width = std::min(panel, cols - c0);
    const int64_t vectors = (width + V::kWidth - 1) / V::kWidth;
    const auto tail = V::tail(width - V::kWidth * (vectors - 1));  // 1..kWidth columns in the last register
    for (int64_t r0 = 0; r0 < rows; r0 += kGemmRows) {
      const int64_t block_rows = std::min<int64_t>(kGemmRows, rows - r0);
      blocks[block_rows - 1][vectors - 1](depth, a + r0 * a_row, a_row, a_k, b + c0, ldb, c + r0 * ldc + c0, ldc,
                                          accumulate, tail);
    }
  }
}

// ---- optimizer updates (kernels/optim.h) ------------------------------------------------------
// One pass per parameter over fixed blocks (threads take whole blocks), each block in SIMD lane
// groups written with std::experimental::simd (its native width follows the variant's flags).
// Explicit SIMD rather than auto-vectorisation because GCC 12 leaves the Adam loop scalar
// (std::sqrt may set errno, and the loops it outlines for `omp parallel` were not vectorised
// either): that was 4-5x slower. Every element runs through the same instructions (a block's last
// partial lane group runs on zero-padded copies), so results do not depend on the thread count or
// on where a chunk starts.
namespace stdx = std::experimental;
template <typename T>
using Lanes = stdx::native_simd<T>;

constexpr int64_t kOptimBlock = int64_t{1} << 14;         // elements per work item; a multiple of any lane count
constexpr int64_t kParallelThreshold = int64_t{1} << 16;  // below this, threads cost more than they save

template <typename T>
Lanes<T> load_lanes(const T* p) {
  return Lanes<T>(p, stdx::element_aligned);
}
template <typename T>
void store_lanes(const Lanes<T>& v, T* p) {
  v.copy_to(p, stdx::element_aligned);
}

// Calls lanes(ptrs + i...) for each full lane group of [begin, end), then once on zero-padded
// copies of the remainder, copying the non-const arrays back.
template <typename T, typename LaneFn, typename... Elems>
void for_lane_groups(int64_t begin, int64_t end, const LaneFn& lanes, Elems*... ptrs) {
  constexpr int64_t width = Lanes<T>::size();
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

// Splits [0, n) into kOptimBlock blocks, shared out among threads when n is large.
template <typename T, typename LaneFn, typename... Elems>
void for_blocks(int64_t n, const LaneFn& lanes, Elems*... ptrs) {
  const int64_t blocks = (n + kOptimBlock - 1) / kOptimBlock;
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b)
    for_lane_groups<T>(b * kOptimBlock, std::min(n, (b + 1) * kOptimBlock), lanes, ptrs...);
}

// The per-element formulas are kernels/optim_math.h's, shared with the CUDA kernels.
template <typename T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buf, const SgdStep& step) {
  const SgdScalars<T> s(step);
  if (step.momentum == 0) {
    for_blocks<T>(
        n,
        [&](T* p, const T* g) {
          Lanes<T> pv = load_lanes(p);
          sgd_element(s, pv, load_lanes(g));
          store_lanes(pv, p);
        },
        param, grad);
    return;
  }
  for_blocks<T>(
      n,
      [&](T* p, const T* g, T* b) {
        Lanes<T> pv = load_lanes(p), buf = load_lanes(b);
        sgd_momentum_element(s, pv, load_lanes(g), buf);
        store_lanes(buf, b);
        store_lanes(pv, p);
      },
      param, grad, momentum_buf);
}

template <typename T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, const AdamStep& step) {
  const AdamScalars<T> s(step);
  for_blocks<T>(
      n,
      [&](T* p, const T* g, T* m, T* v) {
        Lanes<T> pv = load_lanes(p), mv = load_lanes(m), vv = load_lanes(v);
        adam_element(s, pv, load_lanes(g), mv, vv, [](const Lanes<T>& x) { return stdx::sqrt(x); });
        store_lanes(mv, m);
        store_lanes(vv, v);
        store_lanes(pv, p);
      },
      param, grad, exp_avg, exp_avg_sq);
}

template <typename T>
double sum_of_squares(int64_t n, const T* x) {
  const int64_t blocks = (n + kOptimBlock - 1) / kOptimBlock;
  std::vector<double> block_sums(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static) if (n > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b) {
    Lanes<double> acc = 0;
    for_lane_groups<double>(b * kOptimBlock, std::min(n, (b + 1) * kOptimBlock), [&](const T* xs) {
      std::array<double, Lanes<double>::size()> wide;
      for (size_t k = 0; k < wide.size(); ++k) wide[k] = static_cast<double>(xs[k]);
      const Lanes<double> xv = load_lanes(wide.data());
      acc += xv * xv;
    }, x);
    block_sums[static_cast<size_t>(b)] = stdx::reduce(acc);
  }
  double total = 0;  // blocks in order: the same sum for any thread count
  for (const double s : block_sums) total += s;
  return total;
}

template <typename T>
constexpr OptimKernels<T> optim_kernels() {
  return {&sgd_update<T>, &adam_update<T>, &sum_of_squares<T>};
}

// The variant's table.
template <typename V>
constexpr SimdKernels simd_kernels_for(Isa isa) {
  return {isa,           &tile_gemm<V>,           &exp_shift_accumulate<V>, &exp_scale_shift<V>,
          &exp_array<V>, optim_kernels<float>(), optim_kernels<double>()};
}

}  // namespace
}  // namespace attnscale::kernels::cpu

// The one loop nest behind every CPU kernel that reads operands through strides into a contiguous
// output (broadcast binary ops, where, strided copies). Axes that are contiguous in every operand
// are merged first, so a contiguous or simply broadcast tensor becomes a few long rows whose inner
// loop the compiler vectorises; the index arithmetic happens once per row, never per element.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace attnscale::kernels {

// A shape with N operands' strides after merging axes; the output is contiguous over `shape`.
template <size_t N>
struct RowPlan {
  std::vector<int64_t> shape;
  std::array<std::vector<int64_t>, N> strides;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  int64_t inner_stride(size_t k) const { return shape.empty() ? 0 : strides[k].back(); }
};

// Drops size-1 axes and merges axis d into the previous kept axis p when every operand steps
// through both as one axis (stride_p == stride_d * size_d).
template <size_t N>
RowPlan<N> plan_rows(int ndim, const int64_t* shape, const std::array<const int64_t*, N>& strides) {
  RowPlan<N> plan;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    bool merge = !plan.shape.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = strides[k][d] * shape[d] == plan.strides[k].back();
    if (merge) {
      plan.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k].back() = strides[k][d];
      continue;
    }
    plan.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(strides[k][d]);
  }
  return plan;
}

// Calls row(offsets, out_offset, len) for the elements [begin, end) of the output in order, where
// offsets[k] locates the first element in operand k and the row continues with inner_stride(k).
template <size_t N, typename Row>
void walk_rows(const RowPlan<N>& plan, int64_t begin, int64_t end, Row& row) {
  std::array<int64_t, N> base{};
  if (begin >= end) return;  // also covers empty tensors, whose row length may be 0
  if (plan.shape.empty()) {
    row(base, int64_t{0}, int64_t{1});
    return;
  }
  const int nd = static_cast<int>(plan.shape.size());
  const int64_t len = plan.shape.back();
  int64_t col = begin % len;
  std::vector<int64_t> idx(nd - 1, 0);
  for (int64_t r = begin / len, d = nd - 2; d >= 0; --d) {
    idx[d] = r % plan.shape[d];
    r /= plan.shape[d];
    for (size_t k = 0; k < N; ++k) base[k] += idx[d] * plan.strides[k][d];
  }
  for (int64_t pos = begin; pos < end;) {
    const int64_t n = std::min(len - col, end - pos);
    std::array<int64_t, N> offsets;
    for (size_t k = 0; k < N; ++k) offsets[k] = base[k] + col * plan.strides[k][nd - 1];
    row(offsets, pos, n);
    pos += n;
    col = 0;
    for (int d = nd - 2; d >= 0; --d) {
      for (size_t k = 0; k < N; ++k) base[k] += plan.strides[k][d];
      if (++idx[d] < plan.shape[d]) break;
      for (size_t k = 0; k < N; ++k) base[k] -= plan.strides[k][d] * plan.shape[d];
      idx[d] = 0;
    }
  }
}

// Below this many output elements a loop runs on one thread (thread start-up costs more).
inline constexpr int64_t kParallelElements = int64_t{1} << 16;

// walk_rows over the whole output, split into equal cache-line-aligned pieces among the OpenMP
// threads when `parallel` (callers pass false when rows of one operand may overlap in memory).
template <size_t N, typename Row>
void for_each_row(const RowPlan<N>& plan, Row&& row, bool parallel = true) {
  const int64_t total = plan.numel();
  if (!parallel || total < kParallelElements || omp_get_max_threads() == 1) {
    walk_rows(plan, 0, total, row);
    return;
  }
#pragma omp parallel
  {
    constexpr int64_t kAlign = 16;  // elements: one 64-byte line of float
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = ((total + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
    const int64_t begin = std::min(total, t * chunk), end = std::min(total, begin + chunk);
    walk_rows(plan, begin, end, row);
  }
}

}  // namespace attnscale::kernels

#include "kernels/indexing.h"

#include <omp.h>

#include <algorithm>

#include "kernels/cpu/strided_rows.h"

namespace attnscale::kernels {

int64_t find_index_out_of_range(int64_t n, const int64_t* index, int64_t limit, int64_t ignored) {
  for (int64_t i = 0; i < n; ++i)
    if ((index[i] < 0 || index[i] >= limit) && index[i] != ignored) return i;
  return -1;
}

template <typename T>
void gather(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index, T* out) {
  const int64_t rows = outer * index_len;
#pragma omp parallel for if (rows * inner >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const T* x_slab = x + (r / index_len) * x_len * inner;
    const int64_t* idx = index + r * inner;
    T* dst = out + r * inner;
    for (int64_t j = 0; j < inner; ++j) dst[j] = x_slab[idx[j] * inner + j];
  }
}

template <typename T>
void scatter_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
                 const T* src) {
  // Different outer slabs never collide; within a slab several indices may name one row, so the
  // slab is summed in order by one thread (deterministic for any thread count).
#pragma omp parallel for if (outer > 1 && outer * index_len * inner >= kParallelElements) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    T* out_slab = out + o * out_len * inner;
    for (int64_t i = 0; i < index_len; ++i) {
      const int64_t* idx = index + (o * index_len + i) * inner;
      const T* s = src + (o * index_len + i) * inner;
      for (int64_t j = 0; j < inner; ++j) out_slab[idx[j] * inner + j] += s[j];
    }
  }
}

template <typename T>
void index_select(int64_t outer, int64_t x_len, int64_t inner, const T* x, int64_t index_len, const int64_t* index,
                  T* out) {
  const int64_t rows = outer * index_len;
#pragma omp parallel for if (rows * inner >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / index_len, i = r % index_len;
    const T* src = x + (o * x_len + index[i]) * inner;
    std::copy(src, src + inner, out + r * inner);
  }
}

template <typename T>
void index_add(int64_t outer, int64_t out_len, int64_t inner, T* out, int64_t index_len, const int64_t* index,
               const T* src) {
  // Repeated indices make rows collide, so threads split the columns instead: each output element
  // is summed in index order by one thread, whatever the thread count.
  const bool parallel = outer * index_len * inner >= kParallelElements && inner >= 32;
#pragma omp parallel if (parallel)
  {
    constexpr int64_t kAlign = 16;
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = ((inner + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
    const int64_t j0 = std::min(inner, t * chunk), j1 = std::min(inner, j0 + chunk);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < index_len; ++i) {
        T* dst = out + (o * out_len + index[i]) * inner;
        const T* s = src + (o * index_len + i) * inner;
        for (int64_t j = j0; j < j1; ++j) dst[j] += s[j];
      }
  }
}

template <typename T>
void copy_rows(int64_t rows, int64_t row_len, const T* src, int64_t src_stride, T* dst, int64_t dst_stride) {
#pragma omp parallel for if (rows > 1 && rows * row_len >= kParallelElements) schedule(static)
  for (int64_t r = 0; r < rows; ++r) std::copy(src + r * src_stride, src + r * src_stride + row_len, dst + r * dst_stride);
}

template <typename T, typename C>
void where(int ndim, const int64_t* shape, const C* cond, const int64_t* cond_strides, const T* a,
           const int64_t* a_strides, const T* b, const int64_t* b_strides, T* out) {
  const RowPlan<3> plan = plan_rows<3>(ndim, shape, {cond_strides, a_strides, b_strides});
  const int64_t sc = plan.inner_stride(0), sa = plan.inner_stride(1), sb = plan.inner_stride(2);
  for_each_row(plan, [&](const std::array<int64_t, 3>& at, int64_t out_at, int64_t n) {
    const C* pc = cond + at[0];
    const T* pa = a + at[1];
    const T* pb = b + at[2];
    T* po = out + out_at;
    if (sc == 1 && sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] != C(0) ? pa[i] : pb[i];
    } else if (sc == 1 && sa == 0 && sb == 1) {  // masked_fill: a is the fill value
      const T fill = pa[0];
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] != C(0) ? fill : pb[i];
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i * sc] != C(0) ? pa[i * sa] : pb[i * sb];
    }
  });
}

#define INSTANTIATE(T)                                                                                         \
  template void gather<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*);                   \
  template void scatter_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);              \
  template void index_select<T>(int64_t, int64_t, int64_t, const T*, int64_t, const int64_t*, T*);             \
  template void index_add<T>(int64_t, int64_t, int64_t, T*, int64_t, const int64_t*, const T*);                \
  template void copy_rows<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t);                                \
  template void where<T, float>(int, const int64_t*, const float*, const int64_t*, const T*, const int64_t*,   \
                                const T*, const int64_t*, T*);                                                 \
  template void where<T, double>(int, const int64_t*, const double*, const int64_t*, const T*, const int64_t*, \
                                 const T*, const int64_t*, T*);                                                \
  template void where<T, int64_t>(int, const int64_t*, const int64_t*, const int64_t*, const T*,               \
                                  const int64_t*, const T*, const int64_t*, T*);
INSTANTIATE(float)
INSTANTIATE(double)
INSTANTIATE(int64_t)
#undef INSTANTIATE

}  // namespace attnscale::kernels

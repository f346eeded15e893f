#include "kernels/score.h"

#include "base/error.h"
#include "kernels/cpu/tile_gemm.h"

namespace attnscale::kernels {

template <typename T>
DotScore<T>::DotScore(int64_t dim, double scale) : dim_(dim), scale_(static_cast<T>(scale)) {
  ATTNSCALE_CHECK(dim >= 1, "attention", "dot score: dim must be >= 1, got {}", dim);
}

template <typename T>
void DotScore<T>::score_tile(const T* q, int64_t nq, const T* k, int64_t nk, T* scores,
                             int64_t ld) const {
  cpu::rows_times_rows(q, nq, k, nk, dim_, scores, ld);
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < nk; ++j) scores[i * ld + j] *= scale_;
}

template <typename T>
void DotScore<T>::backward_tile(const T* q, int64_t nq, const T* k, int64_t nk,
                                const T* dscores, int64_t ld, T* dq, T* dk) const {
  std::vector<T> scaled(static_cast<size_t>(nq * nk));  // scale * dscores, packed
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < nk; ++j) scaled[i * nk + j] = scale_ * dscores[i * ld + j];
  cpu::tile_gemm<T>(nq, dim_, nk, scaled.data(), nk, 1, k, dim_, dq, dim_, true);   // dq += G K
  cpu::tile_gemm<T>(nk, dim_, nq, scaled.data(), 1, nk, q, dim_, dk, dim_, true);   // dk += G^T Q
}

template class DotScore<float>;
template class DotScore<double>;

}  // namespace attnscale::kernels

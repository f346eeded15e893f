// Score functions for the general attention path (kernels/general_attention.h): how a query row
// meets a key row. Softmax over dot scores normally takes the fused kernels (kernels/attention.h);
// the general path runs normalisers that need whole rows (sparsemax). A score works on tiles so
// that the general path never holds more than a tile of scores per thread (softmax) or a row
// block (sparsemax).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace attnscale::kernels {

template <typename T>
class ScoreFunction {
 public:
  virtual ~ScoreFunction() = default;
  // Row length of the query and key rows this score reads.
  virtual int64_t dim() const = 0;
  // scores[i * ld + j] = score(q_i, k_j), q [nq, dim], k [nk, dim].
  virtual void score_tile(const T* q, int64_t nq, const T* k, int64_t nk, T* scores,
                          int64_t ld) const = 0;
  // Given dscores [nq, nk] (row stride ld): dq [nq, dim] +=, dk [nk, dim] +=.
  virtual void backward_tile(const T* q, int64_t nq, const T* k, int64_t nk, const T* dscores,
                             int64_t ld, T* dq, T* dk) const = 0;
};

// scale * q . k (Luong "dot"; "general" is dot after projecting q by W).
template <typename T>
class DotScore final : public ScoreFunction<T> {
 public:
  DotScore(int64_t dim, double scale);
  int64_t dim() const override { return dim_; }
  void score_tile(const T* q, int64_t nq, const T* k, int64_t nk, T* scores,
                  int64_t ld) const override;
  void backward_tile(const T* q, int64_t nq, const T* k, int64_t nk, const T* dscores, int64_t ld,
                     T* dq, T* dk) const override;

 private:
  int64_t dim_;
  T scale_;
};

}  // namespace attnscale::kernels

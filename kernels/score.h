// Score functions for the general attention path (kernels/general_attention.h): how a query row
// meets a key row. Dot-family scores normally take the fused kernels (kernels/attention.h); the
// general path exists for scores that are not a matrix product (additive / concat) and for
// normalisers that need whole rows (sparsemax). A score works on tiles so that the general path
// never holds more than a tile of scores per thread (softmax) or a row block (sparsemax).
//
// Scores with learned weights outside the projections (additive's v) expose them as parameters:
// backward_tile accumulates their gradient into dparams.
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
  // Given dscores [nq, nk] (row stride ld): dq [nq, dim] +=, dk [nk, dim] +=, dparams +=.
  virtual void backward_tile(const T* q, int64_t nq, const T* k, int64_t nk, const T* dscores,
                             int64_t ld, T* dq, T* dk, std::span<T> dparams) const = 0;
  virtual int64_t param_count() const { return 0; }
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
                     T* dq, T* dk, std::span<T> dparams) const override;

 private:
  int64_t dim_;
  T scale_;
};

// Bahdanau additive / Luong concat: v . tanh(q + k), where q = W_q x_query and k = W_k x_key are
// the projected rows (the projections are ordinary linear layers upstream). Parameter: v [dim].
template <typename T>
class AdditiveScore final : public ScoreFunction<T> {
 public:
  explicit AdditiveScore(std::span<const T> v);
  int64_t dim() const override { return static_cast<int64_t>(v_.size()); }
  void score_tile(const T* q, int64_t nq, const T* k, int64_t nk, T* scores,
                  int64_t ld) const override;
  void backward_tile(const T* q, int64_t nq, const T* k, int64_t nk, const T* dscores, int64_t ld,
                     T* dq, T* dk, std::span<T> dparams) const override;
  int64_t param_count() const override { return dim(); }

 private:
  std::vector<T> v_;
};

}  // namespace attnscale::kernels

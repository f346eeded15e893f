// Hierarchical attention's pooling (Yang et al., NAACL 2016, "Hierarchical Attention Networks for
// Document Classification", eqs. 5-7 and 8-10): a sequence of annotations h_t becomes one vector
//   u_t = tanh(W h_t + b),   alpha_t = softmax_t(u_t . u_w),   s = sum_t alpha_t h_t
// with a learned context vector u_w. The same module pools words into a sentence vector and
// sentences into a document vector. The paper's comparison variants:
//   average  s = mean_t h_t    (HN-AVE; equal to attention with equal scores)
//   max      s = max_t h_t     (HN-MAX, elementwise)
// Distributed use (DESIGN.md section 5, "Hierarchical"): when a document's sentences are spread over
// a group of ranks, each rank pools its own positions into a softmax state (out, lse) with
// `partial`, and merge_pooled_states merges the states of the group (kernels/softmax_merge.h is the
// merge); the result equals pooling all positions on one rank.
#pragma once

#include <cstdint>

#include "framework/nn/layers.h"
#include "framework/nn/module.h"
#include "framework/core/tensor/random.h"

namespace attnscale {
class Communicator;
}

namespace attnscale::attention {

enum class PoolingKind { attention, average, max };

// A softmax state per row: out [B, D] normalised over the positions it covers, lse [B] the
// log-sum-exp of their scores. A row without a valid position has lse = kEmptyLse and out = 0.
struct PooledState {
  Tensor out;
  Tensor lse;
};
// The log-sum-exp given to a row with no valid position: finite (so that no NaN reaches a
// gradient), and so low that its merge weight exp(kEmptyLse - lse) is exactly 0.
inline constexpr double kEmptyLse = -1e30;

class AttentionPooling : public nn::Module {
 public:
  // input_dim = size of h_t, attn_dim = size of u_t and u_w (attention only; the other kinds have
  // no parameters). W, b ~ U(-1/sqrt(input_dim), 1/sqrt(input_dim)), u_w ~ N(0, 1/attn_dim).
  AttentionPooling(int64_t input_dim, int64_t attn_dim, PoolingKind kind, Generator& gen, DType dtype = DType::f32);

  // h [B, T, D], mask [B, T] of h's dtype (1 = valid, 0 = padded; undefined = all valid; every row
  // needs a valid position) -> [B, D].
  Tensor forward(const Tensor& h, const Tensor& mask = {}) const;
  // The attention weights alpha [B, T] (0 at padding); average gives 1/length.
  Tensor weights(const Tensor& h, const Tensor& mask = {}) const;
  // The softmax state over these positions (attention and average; rows may be fully padded).
  PooledState partial(const Tensor& h, const Tensor& mask = {}) const;

  PoolingKind kind() const { return kind_; }

 private:
  Tensor masked_scores(const Tensor& h, const Tensor& mask) const;  // [B, T], kEmptyLse at padding

  PoolingKind kind_;
  int64_t input_dim_;
  std::shared_ptr<nn::Linear> projection_;  // W, b
  Tensor context_;                          // u_w [attn_dim]
};

// Merges the states of every rank of `group` (each holding disjoint positions of the same rows)
// into the pooled vectors [B, D], identical on every rank. Differentiable: the backward sums the
// output gradients over the group (every rank's loss may use the merged vector) and hands each rank
// the gradients of its own state.
Tensor merge_pooled_states(const PooledState& local, Communicator& group);

}  // namespace attnscale::attention

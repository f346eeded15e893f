// Adaptive attention span (Sukhbaatar et al. 2019, "Adaptive Attention Span in Transformers",
// arXiv:1905.07799): every head h learns how far back it looks. A key at distance x = t - r behind
// query t is weighted by the soft span mask
//     m_z(x) = clamp((R + z_h - x) / R, 0, 1)
// (R = ramp width, z_h in [0, max_span] learned), so the weights are
//     a_tr = m_z(t - r) exp(s_tr) / sum_q m_z(t - q) exp(s_tq).
// The span penalty (penalty / H) * sum_h z_h joins the training loss (auxiliary_loss). Keys the
// mask zeroes are skipped: each query scores only the last W keys, W = min(max_span,
// ceil(R + max_h z_h)), which shrinks as the spans do (the paper's trimmed memory). Causal; RoPE
// positions as in the other LM layers. z_h is stored as a fraction of max_span (the paper's
// parameterisation), projected onto [0, 1] in the forward with a gradient that may only pull it
// back inside.
//
// Sequences sharded contiguously over a cp group (context_parallel set): the span is a causal
// window, so each rank fetches the W - 1 keys and values before its shard from their owners
// (halo_prefix) and attends locally; their gradients go home in the backward.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "framework/attention/self_attention.h"
#include "framework/nn/layers.h"

namespace attnscale::attention {

struct AdaptiveSpanOptions {
  int64_t d_model = 128;
  int64_t n_heads = 4;
  int64_t max_span = 64;     // S: keys a query may see at most (itself included)
  double ramp = 32.0;        // R: width of the soft edge, in tokens
  double init_span = 0.0;    // initial z_h of every head, as a fraction of max_span
  double penalty = 0.0;      // lambda of the span penalty
  double rope_theta = 10000.0;  // 0 = no rotary embedding
  double scale = 0.0;           // 0 = 1/sqrt(head_dim)
  // When set (a group of more than one rank, contiguous layout), x holds this rank's shard of each
  // sequence and the keys before it come from the other ranks.
  std::shared_ptr<const ContextParallelGroup> context_parallel;
};

class AdaptiveSpanAttention : public SelfAttention {
 public:
  AdaptiveSpanAttention(const AdaptiveSpanOptions& options, Generator& gen, DType dtype = DType::f32);

  // x [B, N, d_model]; positions int64 [N], consecutive (the band of keys is taken in local order).
  // Key padding is not supported (a language-model layer): key_valid must be empty.
  Tensor forward(const Tensor& x, const Tensor& positions, std::span<const int32_t> key_valid = {}) const override;

  // (penalty / n_heads) * sum_h z_h, z_h in tokens.
  Tensor auxiliary_loss() const override;

  // The current spans z_h in tokens, and the keys per query the forward scores now.
  std::vector<double> spans() const;
  int64_t window() const;

  // Attention of q [B, H, N, D] over k, v [B, H, N, D*] with the soft span mask of the given spans
  // z [H] (in tokens, differentiable): the mechanism itself, without projections.
  static Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& spans, double ramp,
                       int64_t window, double scale);
  // The same for queries at global positions first .. first + N - 1 whose keys and values come with
  // the window - 1 tokens before them: k, v [B, H, window - 1 + N, D*] (rows before position 0 are
  // masked).
  static Tensor attend_band(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& spans, double ramp,
                            int64_t window, double scale, int64_t first);

 private:
  Tensor spans_tensor() const;  // z [H] in tokens, projected onto [0, max_span]

  AdaptiveSpanOptions options_;
  int64_t head_dim_;
  std::shared_ptr<nn::Linear> q_proj_, k_proj_, v_proj_, o_proj_;
  Tensor span_fraction_;  // [H], learned
};

}  // namespace attnscale::attention

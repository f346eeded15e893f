// The CPU backend of kernels/attention.h. Called by the entry points after they checked the
// arguments; not part of the public interface.
#pragma once

#include "kernels/attention.h"

namespace attnscale::kernels::cpu {

// Shape, positions, tiles and mask checks shared by the entry points (UsageError "[attention]").
void check_attention_params(const AttentionParams& params, bool check_scale);
void check_buffer_size(const char* name, size_t got, int64_t expected);
// delta: dout and out both hold delta.size() rows of dv values.
void check_delta_sizes(size_t dout, size_t out, int64_t dv, size_t delta);

// Sizes of the forward buffers; lse only when with_lse (sparsemax has none).
template <typename T>
void check_forward_buffers(const AttentionShape& s, const AttentionForwardBuffers<T>& io,
                           bool with_lse) {
  check_buffer_size("q", io.q.size(), s.q_size());
  check_buffer_size("k", io.k.size(), s.k_size());
  check_buffer_size("v", io.v.size(), s.v_size());
  check_buffer_size("out", io.out.size(), s.out_size());
  if (with_lse) check_buffer_size("lse", io.lse.size(), s.rows());
}

// Sizes of the backward buffers; lse and delta only when with_lse.
template <typename T>
void check_backward_buffers(const AttentionShape& s, const AttentionBackwardBuffers<T>& io,
                            bool with_lse) {
  check_buffer_size("q", io.q.size(), s.q_size());
  check_buffer_size("k", io.k.size(), s.k_size());
  check_buffer_size("v", io.v.size(), s.v_size());
  check_buffer_size("dout", io.dout.size(), s.out_size());
  check_buffer_size("dq", io.dq.size(), s.q_size());
  check_buffer_size("dk", io.dk.size(), s.k_size());
  check_buffer_size("dv", io.dv.size(), s.v_size());
  if (with_lse) {
    check_buffer_size("lse", io.lse.size(), s.rows());
    check_buffer_size("delta", io.delta.size(), s.rows());
  }
}

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io);

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io);

}  // namespace attnscale::kernels::cpu

// The CPU backend of kernels/attention.h. Called by the entry points after they checked the
// arguments; not part of the public interface.
#pragma once

#include "kernels/attention.h"

namespace attnscale::kernels::cpu {

// Shape, positions, tiles and mask checks shared by the entry points (UsageError "[attention]").
void check_attention_params(const AttentionParams& params, bool check_scale);
void check_buffer_size(const char* name, size_t got, int64_t expected);

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io);

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io);

}  // namespace attnscale::kernels::cpu

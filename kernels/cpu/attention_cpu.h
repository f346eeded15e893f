// The CPU backend of kernels/attention.h. Called by the entry points after they checked the
// arguments; not part of the public interface.
#pragma once

#include "kernels/attention.h"

namespace attnscale::kernels::cpu {

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io);

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io);

}  // namespace attnscale::kernels::cpu

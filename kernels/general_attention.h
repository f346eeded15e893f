// The general attention path: any score function (kernels/score.h) with a softmax or sparsemax
// normaliser, same mask, positions, layouts and conventions as kernels/attention.h.
//
// Memory: softmax never holds more than one tile of scores per thread (tiles.q x tiles.k): key
// tiles are folded into the running state with merge_softmax_row. Sparsemax needs a whole row
// to find its threshold, so it holds one row block per thread, tiles.q x M scores: linear in the
// key length, never N x M. (Across ranks, all-gather attention gathers K/V so each rank holds whole
// rows: distributed/context_parallel/all_gather_attention.h.)
//
// Threads: the forward over batch x heads x query tiles, the backward over batch x kv heads.
// params.scale is not used here: the score function carries its own scale.
#pragma once

#include <span>

#include "kernels/attention.h"
#include "kernels/score.h"

namespace attnscale::kernels {

enum class Normalizer { softmax, sparsemax };

// "softmax" or "sparsemax" (UsageError otherwise).
Normalizer parse_normalizer(const char* name);

// softmax: writes (out, lse) like attention_forward (merge_into_output supported).
// sparsemax: writes out; io.lse must be empty (sparsemax has no log-sum-exp) and
// merge_into_output false.
template <typename T>
void general_attention_forward(const AttentionParams& params, const ScoreFunction<T>& score,
                               Normalizer normalizer, const AttentionForwardBuffers<T>& io);

// softmax: needs io.lse and io.delta like attention_backward. sparsemax: recomputes the weights
// from the scores; io.lse and io.delta must be empty.
template <typename T>
void general_attention_backward(const AttentionParams& params, const ScoreFunction<T>& score,
                                Normalizer normalizer, const AttentionBackwardBuffers<T>& io);

}  // namespace attnscale::kernels

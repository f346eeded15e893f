// Sparsemax (Martins & Astudillo 2016, arXiv:1602.02068) over a last axis sharded across the ranks
// of a communicator: every rank holds some keys of each score row, the result on each rank is its
// slice of the single-rank sparsemax of the whole row (DESIGN.md 3, "normaliser").
//
// Threshold by exact selection with all-reduces: start at tau = max - 1 (a lower bound of the
// threshold; the row maximum comes from one all-reduce) and repeat
//     tau <- (sum_{z > tau} z - 1) / |{z > tau}|        (sums and counts all-reduced per row)
// which is Newton's method on f(tau) = sum max(z - tau, 0) - 1 from the left: tau rises
// monotonically, the support only shrinks, and it stops exactly when the support stops changing,
// giving the same tau as the sort (typically 2-4 all-reduces of 2 numbers per row). Every rank
// sees the same reduced counts, so all take the same number of iterations.
// Backward: dz_i = dp_i - mean_{j in S} dp_j on the support S (one more all-reduce), 0 elsewhere.
// Entries equal to -inf are masked (p = 0); a row without a finite entry anywhere gets p = 0.
#pragma once

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale {

// scores [..., m_local] (float32 or float64): this rank's keys of every row. Every rank calls it
// with the same leading shape. Differentiable in scores.
Tensor distributed_sparsemax(const Tensor& scores, Communicator& comm);

}  // namespace attnscale

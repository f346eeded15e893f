// Shared by the sequence-parallel MPI tests: run a distributed attention op on this rank's shard
// and compare output and q, k, v gradients with the single-rank fused op on the whole sequence.
#pragma once

#include <gtest/gtest.h>

#include <functional>

#include "framework/core/ops/attention.h"
#include "tests/mpi/cp_test_util.h"

namespace attnscale::test {

struct ShardedCase {
  int64_t batch = 2, q_heads = 4, kv_heads = 2, length = 0, d = 8, dv = 6;
  DType dtype = DType::f64;
};

using AttentionOp = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const AttentionSpec&)>;

// op(q, k, v, spec) runs the distributed op on the shard at `mine` with the shard's per-token
// parts. `whole` is the global spec (per-token parts [B, N]); `reference` the single-rank op.
inline void expect_matches_single_rank(const ShardedCase& c, const AttentionSpec& whole,
                                       const kernels::Positions& mine, const AttentionOp& op,
                                       const AttentionOp& reference = fused_attention) {
  const Tensor q = random_tensor({c.batch, c.q_heads, c.length, c.d}, 21, c.dtype).set_requires_grad();
  const Tensor k = random_tensor({c.batch, c.kv_heads, c.length, c.d}, 22, c.dtype).set_requires_grad();
  const Tensor v = random_tensor({c.batch, c.kv_heads, c.length, c.dv}, 23, c.dtype).set_requires_grad();
  const Tensor dout = random_tensor({c.batch, c.q_heads, c.length, c.dv}, 24, c.dtype);
  const Tensor ref = reference(q, k, v, whole);
  ref.backward(dout);

  const Tensor lq = shard_rows(q.detach(), mine).set_requires_grad();
  const Tensor lk = shard_rows(k.detach(), mine).set_requires_grad();
  const Tensor lv = shard_rows(v.detach(), mine).set_requires_grad();
  AttentionSpec spec;
  spec.mask = whole.mask;
  spec.scale = whole.scale;
  spec.q_segment = shard_tokens(whole.q_segment, c.batch, mine);
  spec.k_segment = shard_tokens(whole.k_segment, c.batch, mine);
  spec.k_valid = shard_tokens(whole.k_valid, c.batch, mine);
  const Tensor out = op(lq, lk, lv, spec);
  out.backward(shard_rows(dout, mine));

  const double tol = c.dtype == DType::f64 ? 1e-11 : 2e-5;
  const auto rows = [&](const Tensor& t) { return shard_rows(t.detach(), mine); };
  EXPECT_LE(max_abs_diff(out, rows(ref)), tol) << "out";
  EXPECT_LE(max_abs_diff(lq.grad(), rows(q.grad())), tol) << "dq";
  EXPECT_LE(max_abs_diff(lk.grad(), rows(k.grad())), tol) << "dk";
  EXPECT_LE(max_abs_diff(lv.grad(), rows(v.grad())), tol) << "dv";
}

}  // namespace attnscale::test

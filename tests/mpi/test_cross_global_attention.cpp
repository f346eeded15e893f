// Cross-attention with queries and keys from two sequences, each sharded over the cp group by its
// own layout, and distributed global attention (replicated queries over a sharded memory): outputs
// and gradients equal the single-rank fused op on the gathered sequences.
#include <gtest/gtest.h>

#include "distributed/comm/process_grid.h"
#include "distributed/context_parallel/context_parallel_attention.h"
#include "distributed/context_parallel/global_attention.h"
#include "framework/core/ops/ops.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

using kernels::Layout;
using kernels::LayoutKind;

TEST(CrossAttention, QueriesAndKeysShardedByDifferentLayouts) {
  Communicator& world = test::world();
  const int ranks = world.size();
  const int64_t batch = 2, q_heads = 2 * ranks, kv_heads = ranks, d = 8, dv = 5;
  const int64_t q_len = 6 * ranks + 1, k_len = 4 * ranks + 3;
  const Tensor q = test::random_tensor({batch, q_heads, q_len, d}, 21).set_requires_grad();
  const Tensor k = test::random_tensor({batch, kv_heads, k_len, d}, 22).set_requires_grad();
  const Tensor v = test::random_tensor({batch, kv_heads, k_len, dv}, 23).set_requires_grad();
  const Tensor dout = test::random_tensor({batch, q_heads, q_len, dv}, 24);
  std::vector<int32_t> k_valid;  // source padding
  for (int64_t i = 0; i < batch * k_len; ++i) k_valid.push_back(i % 7 == 3 ? 0 : 1);

  for (const bool window : {false, true})
    for (const Algo algo : {Algo::ring, Algo::ulysses, Algo::hybrid}) {
      SCOPED_TRACE(fmt::format("{} {}", algo_name(algo), window ? "window" : "padding only"));
      AttentionSpec whole;
      whole.k_valid = k_valid;
      if (window) whole.mask.window = kernels::Window{3, 2};  // key positions q-3 .. q+2 of the source
      for (Tensor t : {q, k, v}) t.zero_grad();
      const Tensor ref = fused_attention(q, k, v, whole);
      ref.backward(dout);

      const int u = algo == Algo::hybrid && ranks % 2 == 0 ? 2 : ranks;
      ProcessGrid grid(world, GridShape{.dp = 1, .cp = ranks, .ulysses = algo == Algo::hybrid ? u : 1});
      const Layout q_layout(LayoutKind::zigzag, q_len, ranks), k_layout(LayoutKind::striped, k_len, ranks);
      const ContextParallelGroup group{&grid.cp(), &grid.ulysses(), &grid.ring(), algo, q_layout};
      const kernels::Positions q_mine = q_layout.positions(grid.cp().rank());
      const kernels::Positions k_mine = k_layout.positions(grid.cp().rank());
      const Tensor lq = test::shard_rows(q.detach(), q_mine).set_requires_grad();
      const Tensor lk = test::shard_rows(k.detach(), k_mine).set_requires_grad();
      const Tensor lv = test::shard_rows(v.detach(), k_mine).set_requires_grad();
      AttentionSpec spec;
      spec.mask = whole.mask;
      spec.k_valid = test::shard_tokens(k_valid, batch, k_mine);
      const Tensor out = context_parallel_cross_attention(lq, lk, lv, spec, group, k_layout);
      out.backward(test::shard_rows(dout, q_mine));

      EXPECT_LE(test::max_abs_diff(out, test::shard_rows(ref.detach(), q_mine)), 1e-11) << "out";
      EXPECT_LE(test::max_abs_diff(lq.grad(), test::shard_rows(q.grad(), q_mine)), 1e-11) << "dq";
      EXPECT_LE(test::max_abs_diff(lk.grad(), test::shard_rows(k.grad(), k_mine)), 1e-11) << "dk";
      EXPECT_LE(test::max_abs_diff(lv.grad(), test::shard_rows(v.grad(), k_mine)), 1e-11) << "dv";
    }
}

TEST(GlobalAttention, ReplicatedQueriesOverAShardedMemory) {
  auto comm = test::fresh_comm("global_attention");
  const int rank = comm->rank(), ranks = comm->size();
  const int64_t batch = 2, q_heads = 4, kv_heads = 2, queries = 3, d = 8, dv = 6;
  // Uneven shards; rank 0 holds no memory at all.
  std::vector<int64_t> begin{0};
  for (int r = 0; r < ranks; ++r) begin.push_back(begin.back() + 3 * r);
  const int64_t memory = begin.back(), mine = 3 * rank;
  const Tensor q = test::random_tensor({batch, q_heads, queries, d}, 31).set_requires_grad();
  const Tensor k = test::random_tensor({batch, kv_heads, memory, d}, 32).set_requires_grad();
  const Tensor v = test::random_tensor({batch, kv_heads, memory, dv}, 33).set_requires_grad();
  const Tensor dout = test::random_tensor({batch, q_heads, queries, dv}, 34);
  std::vector<int32_t> k_valid;
  for (int64_t i = 0; i < batch * memory; ++i) k_valid.push_back(i % 4 == 1 ? 0 : 1);
  AttentionSpec whole;
  whole.k_valid = k_valid;
  auto [ref, ref_lse] = fused_attention_with_lse(q, k, v, whole);
  ref.backward(dout);

  const kernels::Positions rows = kernels::Positions::contiguous(begin[static_cast<size_t>(rank)], mine);
  const Tensor lq = q.detach().clone().set_requires_grad();
  const Tensor lk = test::shard_rows(k.detach(), rows).set_requires_grad();
  const Tensor lv = test::shard_rows(v.detach(), rows).set_requires_grad();
  AttentionSpec spec;
  spec.k_valid = test::shard_tokens(k_valid, batch, rows);
  auto [out, lse] = distributed_global_attention_with_lse(lq, lk, lv, spec, comm.get());
  // Each rank passes in its share of the output's gradient; the shares sum to dout.
  const double share = 2.0 * (rank + 1) / (ranks * (ranks + 1));
  out.backward(dout * share);

  EXPECT_LE(test::max_abs_diff(out, ref.detach()), 1e-12) << "out, the same on every rank";
  EXPECT_LE(test::max_abs_diff(lse, ref_lse), 1e-12) << "lse";
  EXPECT_LE(test::max_abs_diff(lk.grad(), test::shard_rows(k.grad(), rows)), 1e-12) << "dk";
  EXPECT_LE(test::max_abs_diff(lv.grad(), test::shard_rows(v.grad(), rows)), 1e-12) << "dv";
  std::vector<double> dq = lq.grad().to_vector<double>();
  comm->all_reduce(dq, ReduceOp::sum);
  EXPECT_LE(test::max_abs_diff(Tensor::from(dq, q.shape()), q.grad()), 1e-12) << "dq summed over the ranks";
}

}  // namespace
}  // namespace attnscale

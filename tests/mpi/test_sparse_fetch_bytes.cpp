// Byte counters of the sequence-parallel ops (distributed/comm/comm_stats.h):
//   halo: a rank sends its last `left` keys to the next rank (and its first `right` to the previous
//         one), i.e. window x head_dim x kv_heads x 2 (K and V) x 4 bytes (f32, batch 1), whatever
//         the sequence length; the backward returns the same amount of dK/dV. No other traffic.
//   block fetch: the all_to_all_v moves exactly the key blocks the pattern names for another
//         rank's query blocks (counted here from BlockPattern::block_allowed, not from the plan).
#include <gtest/gtest.h>

#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

struct Dims {
  int64_t batch = 1, q_heads = 4, kv_heads = 2, d = 16;
};

// Forward and backward bytes sent by this rank.
std::pair<uint64_t, uint64_t> run(Communicator& comm, const Dims& dims, const kernels::Layout& layout,
                                  const AttentionSpec& spec, bool halo) {
  const int64_t n = layout.local_length(comm.rank());
  const Tensor q = test::random_tensor({dims.batch, dims.q_heads, n, dims.d}, 1, DType::f32).set_requires_grad();
  const Tensor k = test::random_tensor({dims.batch, dims.kv_heads, n, dims.d}, 2, DType::f32).set_requires_grad();
  const Tensor v = test::random_tensor({dims.batch, dims.kv_heads, n, dims.d}, 3, DType::f32).set_requires_grad();
  const SequenceParallelGroup group{&comm, layout};
  comm.reset_stats();
  const Tensor out = halo ? halo_attention(q, k, v, spec, group) : block_sparse_attention(q, k, v, spec, group);
  const uint64_t forward = comm.stats().total().bytes_sent;
  out.backward(Tensor::ones(out.shape(), out.dtype()));
  return {forward, comm.stats().total().bytes_sent - forward};
}

TEST(SequenceParallelBytes, HaloSendsTheWindowWhateverTheLength) {
  auto comm = test::fresh_comm("halo_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const Dims dims;
  const int64_t window = 6;
  AttentionSpec spec;
  spec.mask.causal = true;
  spec.mask.window = kernels::Window{window, 0};
  const uint64_t halo = static_cast<uint64_t>(window * dims.d * dims.kv_heads * 2 * 4);
  for (const int64_t shard : {32, 96}) {
    SCOPED_TRACE(fmt::format("shard of {} tokens", shard));
    const auto [forward, backward] =
        run(*comm, dims, kernels::Layout(kernels::LayoutKind::contiguous, shard * ranks, ranks), spec, true);
    EXPECT_EQ(forward, rank + 1 < ranks ? halo : 0u) << "K and V of the last window keys to the next rank";
    EXPECT_EQ(backward, rank > 0 ? halo : 0u) << "dK and dV of the fetched window back to its owner";
  }
  // Two-sided: `left` rows to the next rank and `right` rows to the previous one.
  spec.mask.causal = false;
  spec.mask.window = kernels::Window{5, 3};
  const auto row = static_cast<uint64_t>(dims.d * dims.kv_heads * 2 * 4);
  const auto [forward, backward] =
      run(*comm, dims, kernels::Layout(kernels::LayoutKind::contiguous, 40 * ranks, ranks), spec, true);
  EXPECT_EQ(forward, (rank + 1 < ranks ? 5 * row : 0) + (rank > 0 ? 3 * row : 0));
  EXPECT_EQ(backward, (rank > 0 ? 5 * row : 0) + (rank + 1 < ranks ? 3 * row : 0));
}

TEST(SequenceParallelBytes, BlockFetchSendsTheNamedBlocks) {
  auto comm = test::fresh_comm("sparse_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const Dims dims;
  const int64_t block = 8, blocks_per_rank = 4, blocks = blocks_per_rank * ranks;
  const kernels::Layout layout(kernels::LayoutKind::contiguous, block * blocks, ranks);
  using kernels::BlockPattern;
  const std::vector<int64_t> globals{1};
  for (const auto& [name, pattern] : std::vector<std::pair<const char*, BlockPattern>>{
           {"strided", BlockPattern::strided(block, blocks, 3, true)},
           {"fixed", BlockPattern::fixed(block, blocks, 4, 1, true)},
           {"longformer", BlockPattern::longformer(block, blocks, 1, globals)},
           {"bigbird", BlockPattern::bigbird(block, blocks, 1, 1, 1, 5)}}) {
    SCOPED_TRACE(name);
    AttentionSpec spec;
    spec.mask.blocks = std::make_shared<BlockPattern>(pattern);
    // Key blocks of this rank that some query block of another rank names.
    int64_t named = 0;
    for (int consumer = 0; consumer < ranks; ++consumer) {
      if (consumer == rank) continue;
      for (int64_t kb = rank * blocks_per_rank; kb < (rank + 1) * blocks_per_rank; ++kb) {
        bool wanted = false;
        for (int64_t qb = consumer * blocks_per_rank; qb < (consumer + 1) * blocks_per_rank; ++qb)
          wanted = wanted || pattern.block_allowed(qb, kb);
        named += wanted ? 1 : 0;
      }
    }
    const auto bytes = static_cast<uint64_t>(named * block * dims.batch * dims.kv_heads * dims.d * 2 * 4);
    const auto [forward, backward] = run(*comm, dims, layout, spec, false);
    EXPECT_EQ(forward, bytes);
    // The backward returns dK/dV of the blocks this rank fetched: summed over ranks, the same.
    EXPECT_EQ(comm->all_reduce_value(backward, ReduceOp::sum), comm->all_reduce_value(forward, ReduceOp::sum));
  }
}

}  // namespace
}  // namespace attnscale

// block_sparse_attention under 2, 3 and 4 ranks: output and q, k, v gradients equal the
// single-rank fused op for the Sparse Transformer strided and fixed patterns, Longformer (global
// blocks on several ranks attend to and are attended by all) and BigBird, on shards aligned with
// the blocks, on uneven shards that cut blocks, and on zigzag and striped layouts.
#include <gtest/gtest.h>

#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/sp_test_util.h"

namespace attnscale {
namespace {

constexpr int64_t block = 4;

enum class Pattern { strided, fixed, longformer, bigbird };

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::strided:
      return "strided";
    case Pattern::fixed:
      return "fixed";
    case Pattern::longformer:
      return "longformer";
    case Pattern::bigbird:
      return "bigbird";
  }
  return "?";
}

std::shared_ptr<const kernels::BlockPattern> make_pattern(Pattern p, int64_t blocks) {
  using kernels::BlockPattern;
  switch (p) {
    case Pattern::strided:
      return std::make_shared<BlockPattern>(BlockPattern::strided(block, blocks, 3, true));
    case Pattern::fixed:
      return std::make_shared<BlockPattern>(BlockPattern::fixed(block, blocks, 3, 1, true));
    case Pattern::longformer: {
      const std::vector<int64_t> globals{0, blocks / 2 + 1};  // on the first and a middle rank
      return std::make_shared<BlockPattern>(BlockPattern::longformer(block, blocks, 1, globals));
    }
    case Pattern::bigbird:
      return std::make_shared<BlockPattern>(BlockPattern::bigbird(block, blocks, 1, 1, 2, 99));
  }
  return nullptr;
}

void check(Pattern pattern, int64_t blocks_per_rank, int64_t extra_tokens, DType dtype,
           kernels::LayoutKind kind = kernels::LayoutKind::contiguous) {
  auto comm = test::fresh_comm("sparse_fetch");
  const int ranks = comm->size();
  test::ShardedCase c;
  c.length = blocks_per_rank * block * ranks + extra_tokens;
  c.dtype = dtype;
  SCOPED_TRACE(fmt::format("{}: N={} over {} ranks, {}", pattern_name(pattern), c.length, ranks,
                           kernels::layout_kind_name(kind)));
  const kernels::Layout layout(kind, c.length, ranks);
  AttentionSpec whole;
  whole.mask.blocks = make_pattern(pattern, (c.length + block - 1) / block);
  const SequenceParallelGroup group{comm.get(), layout};
  test::expect_matches_single_rank(c, whole, layout.positions(comm->rank()),
                                   [&](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
                                     return block_sparse_attention(q, k, v, spec, group);
                                   });
}

TEST(BlockSparseFetch, Strided) { check(Pattern::strided, 4, 0, DType::f64); }
TEST(BlockSparseFetch, Fixed) { check(Pattern::fixed, 4, 0, DType::f64); }
TEST(BlockSparseFetch, Longformer) { check(Pattern::longformer, 3, 0, DType::f64); }
TEST(BlockSparseFetch, BigBird) { check(Pattern::bigbird, 3, 0, DType::f64); }
TEST(BlockSparseFetch, UnevenShardsCutBlocks) {
  for (const Pattern p : {Pattern::strided, Pattern::fixed, Pattern::longformer, Pattern::bigbird})
    check(p, 3, 3, DType::f64);
}
TEST(BlockSparseFetch, ZigzagAndStripedLayouts) {
  for (const Pattern p : {Pattern::strided, Pattern::longformer}) {
    check(p, 4, 0, DType::f64, kernels::LayoutKind::zigzag);
    check(p, 3, 1, DType::f64, kernels::LayoutKind::striped);
  }
}
TEST(BlockSparseFetch, Float32) { check(Pattern::bigbird, 3, 1, DType::f32); }

TEST(BlockSparseFetch, ComposesWithCausalAndSegments) {
  auto comm = test::fresh_comm("sparse_fetch_seg");
  const int ranks = comm->size();
  test::ShardedCase c;
  c.length = 3 * block * ranks + 2;
  const kernels::Layout layout(kernels::LayoutKind::contiguous, c.length, ranks);
  AttentionSpec whole;
  whole.mask.causal = true;
  whole.mask.blocks = make_pattern(Pattern::longformer, (c.length + block - 1) / block);
  whole.q_segment = whole.k_segment = test::random_segments(c.batch, c.length, 3);
  for (int64_t i = 0; i < c.batch * c.length; ++i) whole.k_valid.push_back(i % 9 == 4 ? 0 : 1);
  const SequenceParallelGroup group{comm.get(), layout};
  test::expect_matches_single_rank(c, whole, layout.positions(comm->rank()),
                                   [&](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
                                     return block_sparse_attention(q, k, v, spec, group);
                                   });
}

}  // namespace
}  // namespace attnscale

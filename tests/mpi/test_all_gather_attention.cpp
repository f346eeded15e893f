// all_gather_attention under 2, 3 and 4 ranks: output and q, k, v gradients equal the single-rank
// op on the whole sequence, for softmax (fused_attention) and sparsemax (sparsemax_attention),
// with causal and window masks, key padding and segments, on uneven contiguous, zigzag and striped
// shards; the keys' gradients reach their owners; auto picks it for sparsemax.
#include <gtest/gtest.h>

#include "distributed/sequence_parallel/all_gather_attention.h"
#include "framework/core/ops/sparsemax.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/sp_test_util.h"

namespace attnscale {
namespace {

void check(kernels::Normalizer normalizer, kernels::LayoutKind kind, const AttentionSpec& whole, int64_t length,
           DType dtype = DType::f64) {
  auto comm = test::fresh_comm("all_gather");
  test::ShardedCase c;
  c.length = length;
  c.dtype = dtype;
  const kernels::Layout layout(kind, c.length, comm->size());
  SCOPED_TRACE(fmt::format("{} N={} over {} ranks, {}", normalizer == kernels::Normalizer::softmax ? "softmax" : "sparsemax",
                           c.length, comm->size(), kernels::layout_kind_name(kind)));
  const SequenceParallelGroup group{comm.get(), layout};
  const test::AttentionOp reference =
      normalizer == kernels::Normalizer::softmax ? test::AttentionOp(fused_attention) : test::AttentionOp(sparsemax_attention);
  test::expect_matches_single_rank(
      c, whole, layout.positions(comm->rank()),
      [&](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
        return all_gather_attention(q, k, v, spec, group, normalizer);
      },
      reference);
}

AttentionSpec causal() {
  AttentionSpec s;
  s.mask.causal = true;
  return s;
}

TEST(AllGatherAttention, SoftmaxEveryLayoutUnevenShards) {
  for (const auto kind : {kernels::LayoutKind::contiguous, kernels::LayoutKind::zigzag, kernels::LayoutKind::striped})
    check(kernels::Normalizer::softmax, kind, causal(), 23);
}

TEST(AllGatherAttention, SparsemaxEveryLayoutUnevenShards) {
  for (const auto kind : {kernels::LayoutKind::contiguous, kernels::LayoutKind::zigzag, kernels::LayoutKind::striped})
    check(kernels::Normalizer::sparsemax, kind, causal(), 23);
}

TEST(AllGatherAttention, SparsemaxWithWindowPaddingAndSegments) {
  const int64_t length = 19, batch = 2;
  AttentionSpec whole;
  whole.mask.window = kernels::Window{6, 2};
  for (int64_t i = 0; i < batch * length; ++i) {
    whole.q_segment.push_back(static_cast<int32_t>((i % length) / 8));
    whole.k_valid.push_back(i % 5 == 3 ? 0 : 1);
  }
  whole.k_segment = whole.q_segment;
  check(kernels::Normalizer::sparsemax, kernels::LayoutKind::zigzag, whole, length);
  check(kernels::Normalizer::sparsemax, kernels::LayoutKind::contiguous, whole, length, DType::f32);
}

TEST(AllGatherAttention, AutoPicksItForSparsemax) {
  const kernels::Layout layout(kernels::LayoutKind::contiguous, 64, 2);
  kernels::Mask window;
  window.window = kernels::Window{3, 0};
  EXPECT_EQ(choose_algo(window, layout, kernels::Normalizer::sparsemax).algo, SeqAlgo::all_gather);
  EXPECT_EQ(choose_algo(window, layout, kernels::Normalizer::softmax).algo, SeqAlgo::halo);
}

}  // namespace
}  // namespace attnscale

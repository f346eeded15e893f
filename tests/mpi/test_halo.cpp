// halo_attention under 2, 3 and 4 ranks: output and q, k, v gradients equal the single-rank fused
// op on the whole sequence for causal and two-sided windows, windows wider than a shard (halo from
// several ranks back), uneven shards, grouped kv heads, segments and key padding, f32 and f64.
#include <gtest/gtest.h>

#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/sp_test_util.h"

namespace attnscale {
namespace {

struct HaloCase {
  const char* name;
  bool causal;
  int64_t left, right;
  int64_t per_rank, extra;  // length = per_rank * ranks + extra (extra > 0: uneven shards)
  bool segments = false, padding = false;
  DType dtype = DType::f64;
  int64_t kv_heads = 2;
};

void check(const HaloCase& hc) {
  auto comm = test::fresh_comm("halo");
  const int ranks = comm->size();
  test::ShardedCase c;
  c.length = hc.per_rank * ranks + hc.extra;
  c.dtype = hc.dtype;
  c.kv_heads = hc.kv_heads;
  SCOPED_TRACE(fmt::format("{}: N={} over {} ranks", hc.name, c.length, ranks));
  const kernels::Layout layout(kernels::LayoutKind::contiguous, c.length, ranks);
  AttentionSpec whole;
  whole.mask.causal = hc.causal;
  whole.mask.window = kernels::Window{hc.left, hc.right};
  if (hc.segments) whole.q_segment = whole.k_segment = test::random_segments(c.batch, c.length, 5);
  if (hc.padding)
    for (int64_t i = 0; i < c.batch * c.length; ++i) whole.k_valid.push_back(i % 7 == 3 ? 0 : 1);
  const SequenceParallelGroup group{comm.get(), layout};
  test::expect_matches_single_rank(c, whole, layout.positions(comm->rank()),
                                   [&](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
                                     return halo_attention(q, k, v, spec, group);
                                   });
}

TEST(HaloAttention, CausalWindowNarrowerThanAShard) { check({"causal window 5", true, 5, 0, 16, 0}); }
TEST(HaloAttention, CausalWindowUnevenShards) { check({"causal window 4, uneven", true, 4, 0, 11, 3}); }
TEST(HaloAttention, TwoSidedWindow) { check({"window (5, 3)", false, 5, 3, 12, 1}); }
TEST(HaloAttention, CausalWindowWiderThanAShard) { check({"causal window 23 > shard 9", true, 23, 0, 9, 2}); }
TEST(HaloAttention, TwoSidedWindowWiderThanAShard) { check({"window (17, 12) > shard 7", false, 17, 12, 7, 1}); }
TEST(HaloAttention, SegmentsAndPadding) {
  check({"causal window 6 + segments + padding", true, 6, 0, 10, 2, true, true});
}
TEST(HaloAttention, Float32MultiQuery) {
  check({"f32 MQA window (4, 4)", false, 4, 4, 13, 1, false, false, DType::f32, 1});
}

// sequence_parallel_attention with `auto`: a narrow window runs the halo (only its bytes travel),
// a plain causal mask the ring; both equal the single-rank op.
TEST(SequenceParallelAttention, AutoChoosesAndMatchesSingleRank) {
  auto comm = test::fresh_comm("sp_auto");
  const int ranks = comm->size();
  test::ShardedCase c;
  c.length = 12 * ranks + 1;
  const kernels::Layout layout(kernels::LayoutKind::contiguous, c.length, ranks);
  const ContextParallelGroup group{comm.get(), nullptr, nullptr, ParallelAlgo::auto_, layout};
  for (const bool windowed : {true, false}) {
    AttentionSpec whole;
    whole.mask.causal = true;
    if (windowed) whole.mask.window = kernels::Window{3, 0};
    const AlgoChoice choice = choose_algo(whole.mask, layout);
    SCOPED_TRACE(fmt::format("{}: {}", parallel_algo_name(choice.algo), choice.reason));
    EXPECT_EQ(choice.algo, windowed ? ParallelAlgo::halo : ParallelAlgo::ring);
    comm->reset_stats();
    test::expect_matches_single_rank(c, whole, layout.positions(comm->rank()),
                                     [&](const Tensor& q, const Tensor& k, const Tensor& v, const AttentionSpec& spec) {
                                       return sequence_parallel_attention(q, k, v, spec, group);
                                     });
    if (windowed) {
      EXPECT_EQ(comm->stats()[CommOp::all_to_all_v].calls, 0u) << "the halo uses point-to-point only";
    }
  }
}

TEST(HaloAttention, RejectsLayoutsOtherThanContiguous) {
  auto comm = test::fresh_comm("halo_layout");
  const kernels::Layout layout(kernels::LayoutKind::zigzag, 8 * comm->size(), comm->size());
  const int64_t n = layout.local_length(comm->rank());
  const Tensor x = Tensor::zeros({1, 1, n, 4}, DType::f64);
  AttentionSpec spec;
  spec.mask.causal = true;
  spec.mask.window = kernels::Window{2, 0};
  try {
    halo_attention(x, x, x, spec, {comm.get(), layout});
    ADD_FAILURE() << "a zigzag layout was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("contiguous"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ring"), std::string::npos) << e.what();
  }
}

TEST(HaloAttention, RejectsMasksWithoutAWindow) {
  auto comm = test::fresh_comm("halo_mask");
  const kernels::Layout layout(kernels::LayoutKind::contiguous, 8 * comm->size(), comm->size());
  const Tensor x = Tensor::zeros({1, 1, 8, 4}, DType::f64);
  AttentionSpec spec;
  spec.mask.causal = true;
  EXPECT_THROW(halo_attention(x, x, x, spec, {comm.get(), layout}), UsageError);
}

}  // namespace
}  // namespace attnscale

// context_parallel_attention under 2, 3 and 4 ranks: outputs, lse and the gradients of q, k, v
// equal the single-rank fused op on the whole sequence, for every layout x mask x algorithm, with
// sequence lengths that do not divide by the rank count and grouped / multi-query kv heads.
#include <gtest/gtest.h>

#include <string>

#include "distributed/comm/process_grid.h"
#include "distributed/context_parallel/context_parallel_attention.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

using kernels::LayoutKind;

enum class MaskKind { none, causal, window, causal_window, wide_window, segments, padding, block_sparse };

const char* mask_name(MaskKind m) {
  switch (m) {
    case MaskKind::none: return "none";
    case MaskKind::causal: return "causal";
    case MaskKind::window: return "window(5,3)";
    case MaskKind::causal_window: return "causal+window(6,0)";
    case MaskKind::wide_window: return "causal+window(13,0), wider than a shard";
    case MaskKind::segments: return "causal+segments";
    case MaskKind::padding: return "key padding";
    case MaskKind::block_sparse: return "block sparse (strided, causal)";
  }
  return "?";
}

struct CpCase {
  LayoutKind layout = LayoutKind::contiguous;
  MaskKind mask = MaskKind::none;
  ParallelAlgo algo = ParallelAlgo::ring;
  int64_t length = 0;
  int64_t q_heads = 0, kv_heads = 0;
  int ulysses = 1;  // Ulysses group size for the process grid (hybrid)
  DType dtype = DType::f64;

  std::string name() const {
    return fmt::format("{} / {} / {} (U={}) / N={} Hq={} Hkv={} {}", kernels::layout_kind_name(layout),
                       mask_name(mask), parallel_algo_name(algo), ulysses, length, q_heads, kv_heads,
                       dtype == DType::f64 ? "f64" : "f32");
  }
};

// The mask of a case on the whole sequence (per-token parts global, [B, N]).
AttentionSpec global_spec(MaskKind kind, int64_t batch, int64_t length) {
  AttentionSpec spec;
  switch (kind) {
    case MaskKind::none: break;
    case MaskKind::causal: spec.mask.causal = true; break;
    case MaskKind::window: spec.mask.window = kernels::Window{5, 3}; break;
    case MaskKind::causal_window:
      spec.mask.causal = true;
      spec.mask.window = kernels::Window{6, 0};
      break;
    case MaskKind::wide_window:  // blocks travel two hops and shed rows on the way
      spec.mask.causal = true;
      spec.mask.window = kernels::Window{13, 0};
      break;
    case MaskKind::segments:
      spec.mask.causal = true;
      spec.q_segment = spec.k_segment = test::random_segments(batch, length, 7);
      break;
    case MaskKind::padding:
      for (int64_t i = 0; i < batch * length; ++i) spec.k_valid.push_back(i % 5 == 2 ? 0 : 1);
      break;
    case MaskKind::block_sparse: {
      const int64_t block = 4;
      spec.mask.blocks = std::make_shared<kernels::BlockPattern>(
          kernels::BlockPattern::strided(block, (length + block - 1) / block, 2, true));
      break;
    }
  }
  return spec;
}

// Runs one case on every rank and compares this rank's shard with the single-rank reference.
void check_case(const CpCase& c) {
  SCOPED_TRACE(c.name());
  Communicator& world = test::world();
  const int ranks = world.size();
  ProcessGrid grid(world, GridShape{.dp = 1, .cp = ranks, .ulysses = c.ulysses});
  const kernels::Layout layout(c.layout, c.length, ranks);
  const ContextParallelGroup group{&grid.cp(), &grid.ulysses(), &grid.ring(), c.algo, layout};

  const int64_t batch = 2, d = 8, dv = 6;
  const Tensor q = test::random_tensor({batch, c.q_heads, c.length, d}, 11, c.dtype).set_requires_grad();
  const Tensor k = test::random_tensor({batch, c.kv_heads, c.length, d}, 12, c.dtype).set_requires_grad();
  const Tensor v = test::random_tensor({batch, c.kv_heads, c.length, dv}, 13, c.dtype).set_requires_grad();
  const Tensor dout = test::random_tensor({batch, c.q_heads, c.length, dv}, 14, c.dtype);
  const AttentionSpec whole = global_spec(c.mask, batch, c.length);
  auto [ref_out, ref_lse] = fused_attention_with_lse(q, k, v, whole);
  ref_out.backward(dout);

  const kernels::Positions mine = layout.positions(grid.cp().rank());
  const Tensor lq = test::shard_rows(q.detach(), mine).set_requires_grad();
  const Tensor lk = test::shard_rows(k.detach(), mine).set_requires_grad();
  const Tensor lv = test::shard_rows(v.detach(), mine).set_requires_grad();
  AttentionSpec spec;
  spec.mask = whole.mask;
  spec.q_segment = test::shard_tokens(whole.q_segment, batch, mine);
  spec.k_segment = test::shard_tokens(whole.k_segment, batch, mine);
  spec.k_valid = test::shard_tokens(whole.k_valid, batch, mine);
  auto [out, lse] = context_parallel_attention_with_lse(lq, lk, lv, spec, group);
  out.backward(test::shard_rows(dout, mine));

  const double tol = c.dtype == DType::f64 ? 1e-11 : 2e-5;
  const auto rows = [&](const Tensor& t) { return test::shard_rows(t.detach(), mine); };
  EXPECT_LE(test::max_abs_diff(out, rows(ref_out)), tol) << "out";
  const Shape ls = ref_lse.shape();
  const Tensor ref_lse4 = Tensor::from(ref_lse.to(DType::f64).to_vector<double>(), {ls[0], ls[1], ls[2], 1});
  const Tensor lse4 = Tensor::from(lse.to(DType::f64).to_vector<double>(), {ls[0], ls[1], lse.shape()[2], 1});
  EXPECT_LE(test::max_abs_diff(lse4, test::shard_rows(ref_lse4, mine)), tol) << "lse";
  EXPECT_LE(test::max_abs_diff(lq.grad(), rows(q.grad())), tol) << "dq";
  EXPECT_LE(test::max_abs_diff(lk.grad(), rows(k.grad())), tol) << "dk";
  EXPECT_LE(test::max_abs_diff(lv.grad(), rows(v.grad())), tol) << "dv";
}

// The Ulysses group size of the hybrid: the largest proper divisor of the rank count above 1, or
// all ranks when there is none (then the ring has one group).
int hybrid_ulysses(int ranks) {
  for (int u = ranks / 2; u > 1; --u)
    if (ranks % u == 0) return u;
  return ranks;
}

TEST(ContextParallelAttention, EveryLayoutMaskAndAlgorithmMatchesTheFusedOp) {
  const int ranks = test::world().size();
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses, ParallelAlgo::hybrid})
    for (const LayoutKind layout : {LayoutKind::contiguous, LayoutKind::zigzag, LayoutKind::striped})
      for (const MaskKind mask : {MaskKind::none, MaskKind::causal, MaskKind::window, MaskKind::causal_window,
                                  MaskKind::wide_window, MaskKind::segments, MaskKind::padding}) {
        CpCase c;
        c.layout = layout;
        c.mask = mask;
        c.algo = algo;
        c.length = 8 * ranks + 1;  // divides neither by P nor by the 2P zigzag chunks
        c.q_heads = 2 * ranks;     // GQA: pairs of query heads share a kv head
        c.kv_heads = ranks;
        c.ulysses = algo == ParallelAlgo::hybrid ? hybrid_ulysses(ranks) : 1;
        check_case(c);
      }
}

TEST(ContextParallelAttention, MultiQueryEvenLengthsAndBlockSparse) {
  const int ranks = test::world().size();
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses, ParallelAlgo::hybrid})
    for (const LayoutKind layout : {LayoutKind::contiguous, LayoutKind::zigzag, LayoutKind::striped}) {
      CpCase c;
      c.layout = layout;
      c.algo = algo;
      c.ulysses = algo == ParallelAlgo::hybrid ? hybrid_ulysses(ranks) : 1;
      c.mask = MaskKind::causal;
      c.length = 12 * ranks;  // even shards
      c.q_heads = ranks;
      c.kv_heads = 1;  // MQA: the one kv head travels to every Ulysses member
      check_case(c);
      c.mask = MaskKind::block_sparse;
      c.length = 10 * ranks + 3;
      c.q_heads = c.kv_heads = ranks;  // MHA
      check_case(c);
    }
}

TEST(ContextParallelAttention, HybridWithEveryFactorisationOfTheGroup) {
  const int ranks = test::world().size();
  for (int u = 1; u <= ranks; ++u) {
    if (ranks % u != 0) continue;
    CpCase c;
    c.layout = LayoutKind::zigzag;
    c.mask = MaskKind::causal_window;
    c.algo = ParallelAlgo::hybrid;
    c.ulysses = u;
    c.length = 6 * ranks + 5;
    c.q_heads = 2 * ranks;
    c.kv_heads = 2;
    if (u > 2 && u % 2 != 0) c.kv_heads = 1;  // kv heads and U must divide one another
    check_case(c);
  }
}

TEST(ContextParallelAttention, ShortSequencesLeaveSomeRanksWithoutTokens) {
  const int ranks = test::world().size();
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses})
    for (const LayoutKind layout : {LayoutKind::contiguous, LayoutKind::zigzag, LayoutKind::striped}) {
      CpCase c;
      c.layout = layout;
      c.mask = MaskKind::causal;
      c.algo = algo;
      c.length = ranks - 1;  // the last rank (zigzag: more) holds nothing
      c.q_heads = ranks;
      c.kv_heads = 1;
      check_case(c);
    }
}

TEST(ContextParallelAttention, Float32MatchesTheFusedOp) {
  const int ranks = test::world().size();
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses}) {
    CpCase c;
    c.layout = LayoutKind::zigzag;
    c.mask = MaskKind::causal;
    c.algo = algo;
    c.length = 40 * ranks + 7;
    c.q_heads = ranks;
    c.kv_heads = ranks;
    c.dtype = DType::f32;
    check_case(c);
  }
}

TEST(ContextParallelAttention, ClearErrorsForHeadsAndShards) {
  Communicator& world = test::world();
  const int ranks = world.size();
  const kernels::Layout layout(LayoutKind::contiguous, 4 * ranks, ranks);
  const int64_t n = layout.local_length(world.rank());
  const Tensor q = Tensor::zeros({1, ranks + 1, n, 4}, DType::f64);
  const Tensor k = Tensor::zeros({1, 1, n, 4}, DType::f64);
  ContextParallelGroup group{&world, nullptr, nullptr, ParallelAlgo::ulysses, layout};
  try {
    context_parallel_attention(q, k, k, AttentionSpec{}, group);
    ADD_FAILURE() << "heads not divisible by the ulysses degree must throw";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("[ulysses] heads ({}) not divisible by ulysses degree ({})", ranks + 1, ranks));
  }
  group.algo = ParallelAlgo::ring;
  const Tensor wrong = Tensor::zeros({1, 1, n + 1, 4}, DType::f64);
  EXPECT_THROW(context_parallel_attention(wrong, wrong, wrong, AttentionSpec{}, group), UsageError);
  group.algo = ParallelAlgo::hybrid;  // without the ulysses and ring communicators
  EXPECT_THROW(context_parallel_attention(k, k, k, AttentionSpec{}, group), UsageError);
  group.algo = ParallelAlgo::halo;  // runs through sequence_parallel_attention, not the ring
  EXPECT_THROW(context_parallel_attention(k, k, k, AttentionSpec{}, group), UsageError);
}

}  // namespace
}  // namespace attnscale

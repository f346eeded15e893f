// kernels/cuda/attention.cu on the host emulator against the CPU kernels (kernels/cpu/attention_*)
// on the same inputs: out, lse, dq, dk, dv for every mask kind, uneven lengths, GQA, fully masked
// rows, q_offset and strided positions, and the merge / accumulate modes ring attention uses.
// Shapes are small (the emulator runs every CUDA thread as a fiber) but span several tiles of
// every kernel (64 queries x 64 keys forward, 32 x 64 dk/dv, 64 x 32 dq) with ragged tails.
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/cuda/attention.h"
#include "tests/cuda_host/attention_compare.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostAttention : public KernelTest {};
TYPED_TEST_SUITE(CudaHostAttention, FloatTypes);
class CudaHostAttentionOne : public KernelTest {};

AttentionShape shape(int64_t b, int64_t hq, int64_t hkv, int64_t n, int64_t m, int64_t d,
                     int64_t dv) {
  return AttentionShape{b, hq, hkv, n, m, d, dv};
}

TYPED_TEST(CudaHostAttention, NoMaskUnevenLengths) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 70, 45, 20, 12);
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, CausalGqaWithQueryOffset) {
  AttentionCase c;
  c.shape = shape(1, 4, 2, 67, 130, 16, 24);
  c.q_offset = 63;  // queries at 63..129: the last one sees every key
  c.mask.causal = true;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, FullyMaskedRowsGiveZeroAndMinusInfinity) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 70, 50, 8, 8);
  c.q_offset = -40;  // queries at -40..29: the first forty see no key
  c.mask.causal = true;
  const auto r = check_against_cpu<TypeParam>(c);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 40; ++i) {
      const int64_t row = h * 70 + i;
      EXPECT_EQ(r.lse[row], -std::numeric_limits<TypeParam>::infinity()) << row;
      for (int64_t x = 0; x < 8; ++x) {
        EXPECT_EQ(r.out[row * 8 + x], TypeParam(0)) << row;
        EXPECT_EQ(r.dq[row * 8 + x], TypeParam(0)) << row;
      }
    }
}

TYPED_TEST(CudaHostAttention, WindowBothSidesSkipsTiles) {
  AttentionCase c;
  c.shape = shape(1, 2, 2, 150, 170, 16, 20);
  c.q_offset = -5;
  c.mask.window = std::make_pair(int64_t{37}, int64_t{11});
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, SegmentsWithCausalWindow) {
  AttentionCase c;
  c.shape = shape(2, 2, 1, 100, 100, 16, 16);
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{45}, int64_t{0});
  c.mask.q_segment = sorted_segments(2, 100, 4, 3);
  c.mask.k_segment = c.mask.q_segment;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, KeyPaddingWithAllPaddedBatchRow) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 40, 70, 16, 16);
  c.mask.k_valid.assign(2 * 70, 1);
  for (int64_t j = 51; j < 70; ++j) c.mask.k_valid[j] = 0;      // batch 0: padded tail
  for (int64_t j = 0; j < 70; ++j) c.mask.k_valid[70 + j] = 0;  // batch 1: nothing present
  const auto r = check_against_cpu<TypeParam>(c);
  for (int64_t row = 2 * 40; row < 4 * 40; ++row)
    EXPECT_EQ(r.lse[row], -std::numeric_limits<TypeParam>::infinity()) << row;
}

TYPED_TEST(CudaHostAttention, BlockSparseBigBird) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 128, 128, 16, 16);
  const auto pattern = kernels::BlockPattern::bigbird(16, 8, 1, 1, 2, 42);
  c.mask.block_size = 16;
  c.mask.block_rows = c.mask.block_cols = 8;
  c.mask.blocks.assign(pattern.allowed().begin(), pattern.allowed().end());
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, BlockSparseWithOriginsAndCausal) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 80, 90, 8, 8);
  c.q_offset = 10;
  c.mask.block_size = 24;
  c.mask.block_rows = 4;
  c.mask.block_cols = 4;
  c.mask.block_q_origin = 10;
  c.mask.blocks = {1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1};
  c.mask.causal = true;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, StripedShardsCausal) {
  const kernels::Layout layout(kernels::LayoutKind::striped, 200, 3);
  AttentionCase c;
  c.q_positions = layout.positions(1);
  c.k_positions = layout.positions(2);
  c.shape = shape(1, 2, 1, c.q_positions.size(), c.k_positions.size(), 16, 16);
  c.mask.causal = true;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostAttention, EmptyKeyOrQuerySets) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 5, 0, 8, 4);
  check_against_cpu<TypeParam>(c);  // every row: out 0, lse -inf, dq 0
  c.shape = shape(1, 2, 1, 0, 6, 8, 4);
  check_against_cpu<TypeParam>(c);  // dk and dv are 0
}

TEST_F(CudaHostAttentionOne, HeadDim128Float) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 80, 100, 128, 80);
  c.mask.causal = true;
  c.q_offset = 20;
  check_against_cpu<float>(c);
}

TEST_F(CudaHostAttentionOne, DoubleRejectsHeadDimAbove64) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 4, 4, 80, 8);
  const CaseData data = make_data(c);
  try {
    run_cuda<double>(c, data);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the kernel's limit 64"), std::string::npos) << e.what();
  }
}

// Ring attention's use: the keys arrive in two shards; the forward merges each shard's state into
// (out, lse), the backward accumulates dq over the shards and writes each shard's dk, dv. The
// result must be the one-call result of the CPU kernel.
TYPED_TEST(CudaHostAttention, MergeAndAccumulateOverKeyShards) {
  using T = TypeParam;
  AttentionCase c;
  c.shape = shape(2, 2, 1, 70, 100, 16, 12);
  c.mask.causal = true;
  c.q_offset = 20;  // queries 20..89: rows before 40 see nothing of the second shard
  c.mask.k_valid.assign(2 * 100, 1);
  for (int64_t j = 0; j < 100; j += 7) c.mask.k_valid[j] = 0;
  const CaseData data = make_data(c);
  const KernelResult<T> cpu = run_kernels<T>(c, data);

  const AttentionShape& s = c.shape;
  const auto k = cast<T>(data.k), v = cast<T>(data.v);
  const KernelVector<T> q = kernel_copy(cast<T>(data.q)), dout = kernel_copy(cast<T>(data.dout));
  const int64_t split = 40, d = s.head_dim, dv = s.value_dim;
  // Shard `part` (0: keys [0, split), 1: the rest) of k, v, k_valid, in [B, Hkv, M_part, *].
  struct Shard {
    KernelVector<T> k, v;
    KernelVector<int32_t> k_valid;
    kernels::AttentionParams params;
    int64_t begin = 0, len = 0;
  };
  const kernels::AttentionParams full = c.params();
  auto make_shard = [&](int part) {
    Shard sh;
    sh.begin = part == 0 ? 0 : split;
    sh.len = part == 0 ? split : s.k_len - split;
    for (int64_t bg = 0; bg < s.batch * s.kv_heads; ++bg) {
      sh.k.insert(sh.k.end(), k.begin() + (bg * s.k_len + sh.begin) * d,
                  k.begin() + (bg * s.k_len + sh.begin + sh.len) * d);
      sh.v.insert(sh.v.end(), v.begin() + (bg * s.k_len + sh.begin) * dv,
                  v.begin() + (bg * s.k_len + sh.begin + sh.len) * dv);
    }
    for (int64_t b = 0; b < s.batch; ++b)
      sh.k_valid.insert(sh.k_valid.end(), c.mask.k_valid.begin() + b * s.k_len + sh.begin,
                        c.mask.k_valid.begin() + b * s.k_len + sh.begin + sh.len);
    sh.params = full;
    sh.params.shape.k_len = sh.len;
    sh.params.k_positions = kernels::Positions::contiguous(sh.begin, sh.len);
    return sh;
  };
  Shard shards[2] = {make_shard(0), make_shard(1)};
  for (Shard& sh : shards)
    sh.params.mask = full.mask.with_keys({}, {sh.k_valid.data(), sh.k_valid.size()});

  KernelVector<T> out(s.out_size(), T(0)), lse(s.rows(), -std::numeric_limits<T>::infinity());
  for (const Shard& sh : shards) {
    kernels::AttentionForwardBuffers<T> io{q, sh.k, sh.v, out, lse};
    io.merge_into_output = true;
    cuda::attention_forward<T>(sh.params, io, kStream);
  }
  const Tolerance tol = attention_tolerance<T>();
  EXPECT_TRUE(all_close(out, cpu.out, tol)) << "out";
  EXPECT_TRUE(all_close(lse, cpu.lse, tol)) << "lse";

  KernelVector<T> delta(s.rows()), dq(s.q_size(), T(7));
  cuda::attention_delta<T>(dout, out, dv, delta, kStream);
  std::vector<T> dk(s.k_size()), dvv(s.v_size());
  for (int part = 0; part < 2; ++part) {
    const Shard& sh = shards[part];
    // dk, dv start at 1: accumulate_dkv adds this shard's gradient to them.
    KernelVector<T> dk_part(sh.k.size(), T(1)), dv_part(sh.v.size(), T(1));
    kernels::AttentionBackwardBuffers<T> io{q, sh.k, sh.v, dout, lse, delta, dq, dk_part, dv_part};
    io.accumulate_dq = part > 0;
    io.accumulate_dkv = true;
    cuda::attention_backward<T>(sh.params, io, kStream);
    // Back into [B, Hkv, M, *] order, less the 1 they started from.
    for (int64_t bg = 0; bg < s.batch * s.kv_heads; ++bg) {
      for (int64_t x = 0; x < sh.len * d; ++x)
        dk[(bg * s.k_len + sh.begin) * d + x] = dk_part[bg * sh.len * d + x] - T(1);
      for (int64_t x = 0; x < sh.len * dv; ++x)
        dvv[(bg * s.k_len + sh.begin) * dv + x] = dv_part[bg * sh.len * dv + x] - T(1);
    }
  }
  EXPECT_TRUE(all_close(dq, cpu.dq, tol)) << "dq";
  EXPECT_TRUE(all_close(dk, cpu.dk, Tolerance{tol.rtol * 10, tol.atol * 10})) << "dk";
  EXPECT_TRUE(all_close(dvv, cpu.dv, Tolerance{tol.rtol * 10, tol.atol * 10})) << "dv";
}

TEST_F(CudaHostAttentionOne, RejectsBadShapesLikeTheCpuEntryPoints) {
  AttentionCase c;
  c.shape = shape(1, 3, 2, 4, 4, 8, 8);  // 3 query heads, 2 kv heads
  std::vector<float> q(c.shape.q_size()), k(c.shape.k_size()), v(c.shape.v_size()),
      out(c.shape.out_size()), lse(c.shape.rows());
  try {
    cuda::attention_forward<float>(c.params(), {q, k, v, out, lse}, kStream);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[attention] q_heads (3)"), std::string::npos) << e.what();
  }
  std::vector<float> delta(3);
  EXPECT_THROW(cuda::attention_delta<float>(out, out, 8, delta, kStream), UsageError);
}

}  // namespace
}  // namespace attnscale::test

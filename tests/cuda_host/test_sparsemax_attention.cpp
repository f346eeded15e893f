// kernels/cuda/sparsemax_attention.cu on the host emulator against the CPU's general attention path
// with the sparsemax normaliser (kernels/general_attention.h, DotScore) on the same inputs: out, dq,
// dk, dv for every mask kind (causal, window, segments, key padding, block-sparse, strided
// positions), uneven lengths, GQA, fully masked rows and the accumulate modes; a NaN fails.
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/cuda/sparsemax_attention.h"
#include "kernels/general_attention.h"
#include "kernels/score.h"
#include "tests/cuda_host/attention_compare.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostSparsemaxAttention : public KernelTest {};
TYPED_TEST_SUITE(CudaHostSparsemaxAttention, FloatTypes);
class CudaHostSparsemaxAttentionOne : public KernelTest {};

AttentionShape shape(int64_t b, int64_t hq, int64_t hkv, int64_t n, int64_t m, int64_t d, int64_t dv) {
  return AttentionShape{b, hq, hkv, n, m, d, dv};
}

template <typename T>
struct SparsemaxResult {
  std::vector<T> out, dq, dk, dv;
};

// The CPU's general path (the reference the op runs on the CPU). accumulate: dq, dk, dv start at
// 1 and are added to.
template <typename T>
SparsemaxResult<T> run_sparsemax_cpu(const AttentionCase& c, const CaseData& data, bool accumulate) {
  const kernels::AttentionParams params = c.params();
  const AttentionShape& s = c.shape;
  const auto q = cast<T>(data.q), k = cast<T>(data.k), v = cast<T>(data.v), dout = cast<T>(data.dout);
  const kernels::DotScore<T> score(s.head_dim, params.scale);
  const T start = accumulate ? T(1) : T(7);  // 7: garbage the kernel must overwrite
  SparsemaxResult<T> r{std::vector<T>(s.out_size(), T(7)), std::vector<T>(s.q_size(), start),
                       std::vector<T>(s.k_size(), start), std::vector<T>(s.v_size(), start)};
  kernels::general_attention_forward<T>(params, score, kernels::Normalizer::sparsemax, {q, k, v, r.out, {}});
  kernels::AttentionBackwardBuffers<T> io{q, k, v, dout, {}, {}, r.dq, r.dk, r.dv};
  io.accumulate_dq = io.accumulate_dkv = accumulate;
  kernels::general_attention_backward<T>(params, score, kernels::Normalizer::sparsemax, io);
  return r;
}

template <typename T>
SparsemaxResult<T> run_sparsemax_cuda(const AttentionCase& c, const CaseData& data, bool accumulate) {
  kernels::AttentionParams params = c.params();
  const KernelMaskArrays mask(c.mask);
  mask.bind(params.mask);
  const AttentionShape& s = c.shape;
  const KernelVector<T> q = kernel_copy(cast<T>(data.q)), k = kernel_copy(cast<T>(data.k)),
                        v = kernel_copy(cast<T>(data.v)), dout = kernel_copy(cast<T>(data.dout));
  const T start = accumulate ? T(1) : T(7);
  KernelVector<T> out(s.out_size(), T(7)), dq(s.q_size(), start), dk(s.k_size(), start), dv(s.v_size(), start);
  cuda::sparsemax_attention_forward<T>(params, {q, k, v, out, {}}, kStream);
  kernels::AttentionBackwardBuffers<T> io{q, k, v, dout, {}, {}, dq, dk, dv};
  io.accumulate_dq = io.accumulate_dkv = accumulate;
  cuda::sparsemax_attention_backward<T>(params, io, kStream);
  wait_for_kernels();
  return {host_copy(out), host_copy(dq), host_copy(dk), host_copy(dv)};
}

// The CUDA kernels and the CPU path on the same inputs; returns the CUDA results.
template <typename T>
SparsemaxResult<T> check_sparsemax_against_cpu(const AttentionCase& c, bool accumulate = false) {
  const CaseData data = make_data(c);
  const SparsemaxResult<T> cuda = run_sparsemax_cuda<T>(c, data, accumulate), cpu = run_sparsemax_cpu<T>(c, data, accumulate);
  const Tolerance tol = attention_tolerance<T>();
  EXPECT_TRUE(all_close(cuda.out, cpu.out, tol)) << "out";
  EXPECT_TRUE(all_close(cuda.dq, cpu.dq, tol)) << "dq";
  EXPECT_TRUE(all_close(cuda.dk, cpu.dk, tol)) << "dk";
  EXPECT_TRUE(all_close(cuda.dv, cpu.dv, tol)) << "dv";
  return cuda;
}

// Scores spread widely enough that sparsemax keeps a real support (several keys, not one or all).
AttentionCase spread(AttentionCase c) {
  c.scale = 2.0;
  return c;
}

TYPED_TEST(CudaHostSparsemaxAttention, NoMaskUnevenLengths) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 19, 23, 20, 12);
  check_sparsemax_against_cpu<TypeParam>(spread(c));
}

TYPED_TEST(CudaHostSparsemaxAttention, CausalGqaWithQueryOffset) {
  AttentionCase c;
  c.shape = shape(1, 4, 2, 15, 33, 16, 24);
  c.q_offset = 18;  // queries at 18..32: the last one sees every key
  c.mask.causal = true;
  check_sparsemax_against_cpu<TypeParam>(c);
}

TYPED_TEST(CudaHostSparsemaxAttention, FullyMaskedRowsGiveZeroOutputAndGradient) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 30, 20, 8, 8);
  c.q_offset = -12;  // queries at -12..17: the first twelve see no key
  c.mask.causal = true;
  const auto r = check_sparsemax_against_cpu<TypeParam>(spread(c));
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 12; ++i)
      for (int64_t x = 0; x < 8; ++x) {
        const int64_t at = (h * 30 + i) * 8 + x;
        EXPECT_EQ(r.out[at], TypeParam(0)) << at;
        EXPECT_EQ(r.dq[at], TypeParam(0)) << at;
      }
}

TYPED_TEST(CudaHostSparsemaxAttention, WindowBothSides) {
  AttentionCase c;
  c.shape = shape(1, 2, 2, 26, 31, 16, 20);
  c.q_offset = -5;
  c.mask.window = std::make_pair(int64_t{9}, int64_t{3});
  check_sparsemax_against_cpu<TypeParam>(spread(c));
}

TYPED_TEST(CudaHostSparsemaxAttention, SegmentsWithCausalWindow) {
  AttentionCase c;
  c.shape = shape(2, 2, 1, 24, 24, 16, 16);
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{11}, int64_t{0});
  c.mask.q_segment = sorted_segments(2, 24, 3, 3);
  c.mask.k_segment = c.mask.q_segment;
  check_sparsemax_against_cpu<TypeParam>(spread(c));
}

TYPED_TEST(CudaHostSparsemaxAttention, KeyPaddingWithAllPaddedBatchRow) {
  AttentionCase c;
  c.shape = shape(2, 2, 2, 12, 21, 16, 16);
  c.mask.k_valid.assign(2 * 21, 1);
  for (int64_t j = 15; j < 21; ++j) c.mask.k_valid[j] = 0;      // batch 0: padded tail
  for (int64_t j = 0; j < 21; ++j) c.mask.k_valid[21 + j] = 0;  // batch 1: nothing present
  const auto r = check_sparsemax_against_cpu<TypeParam>(spread(c));
  for (int64_t at = 2 * 12 * 16; at < 4 * 12 * 16; ++at) EXPECT_EQ(r.out[at], TypeParam(0)) << at;
}

TYPED_TEST(CudaHostSparsemaxAttention, BlockSparseStridedWithQueryOffset) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 27, 40, 8, 8);
  c.q_offset = 13;
  const auto pattern = kernels::BlockPattern::strided(8, 5, 2, /*causal=*/true);
  c.mask.block_size = 8;
  c.mask.block_rows = c.mask.block_cols = 5;
  c.mask.blocks.assign(pattern.allowed().begin(), pattern.allowed().end());
  check_sparsemax_against_cpu<TypeParam>(spread(c));
}

TYPED_TEST(CudaHostSparsemaxAttention, StripedShardsCausal) {
  const kernels::Layout layout(kernels::LayoutKind::striped, 60, 3);
  AttentionCase c;
  c.q_positions = layout.positions(1);
  c.k_positions = layout.positions(2);
  c.shape = shape(1, 2, 1, c.q_positions.size(), c.k_positions.size(), 16, 16);
  c.mask.causal = true;
  check_sparsemax_against_cpu<TypeParam>(spread(c));
}

TYPED_TEST(CudaHostSparsemaxAttention, AccumulatesIntoDqDkDv) {
  AttentionCase c;
  c.shape = shape(2, 2, 1, 13, 17, 12, 10);
  c.mask.causal = true;
  c.q_offset = 5;
  check_sparsemax_against_cpu<TypeParam>(spread(c), /*accumulate=*/true);
}

TYPED_TEST(CudaHostSparsemaxAttention, EmptyKeyOrQuerySets) {
  AttentionCase c;
  c.shape = shape(1, 2, 1, 5, 0, 8, 4);
  check_sparsemax_against_cpu<TypeParam>(c);  // every row: out 0, dq 0
  c.shape = shape(1, 2, 1, 0, 6, 8, 4);
  check_sparsemax_against_cpu<TypeParam>(c);  // dk and dv are 0
}

TEST_F(CudaHostSparsemaxAttentionOne, HeadDim256AndLongerRows) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 3, 200, 256, 130);
  c.mask.causal = true;
  c.q_offset = 197;
  check_sparsemax_against_cpu<float>(spread(c));
}

TEST_F(CudaHostSparsemaxAttentionOne, RejectsLseAndHeadDimsAboveTheLimit) {
  AttentionCase c;
  c.shape = shape(1, 1, 1, 4, 4, 8, 8);
  KernelVector<float> q(c.shape.q_size()), k(c.shape.k_size()), v(c.shape.v_size()), out(c.shape.out_size()),
      lse(c.shape.rows());
  EXPECT_THROW(cuda::sparsemax_attention_forward<float>(c.params(), {q, k, v, out, lse}, kStream), UsageError);
  c.shape = shape(1, 1, 1, 4, 4, 264, 8);
  KernelVector<float> wide_q(c.shape.q_size()), wide_k(c.shape.k_size());
  try {
    cuda::sparsemax_attention_forward<float>(c.params(), {wide_q, wide_k, v, out, {}}, kStream);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("head_dim = 264 exceeds the kernel's limit 256"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace attnscale::test

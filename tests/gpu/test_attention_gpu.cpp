// kernels/cuda/attention.cu on a GPU against the CPU kernels at lengths the emulator is too slow
// for (label gpu; the small cases of tests/cuda_host/test_attention.cpp also run here, as gpu.*).
// Skips, saying why, without a usable GPU.
#include "tests/cuda_host/attention_compare.h"

namespace attnscale::test {
namespace {

// Lengths of a thousand take minutes on the host emulator: the emulation build skips them (its
// cuda_host tests run the same kernel source at small lengths).
class LongAttentionTest : public KernelTest {
 protected:
  void SetUp() override {
#if defined(ATTNSCALE_CUDA_HOST_EMULATION)
    GTEST_SKIP() << "lengths of ~1000 are too slow for the host emulator; tests/cuda_host/test_attention.cpp "
                    "runs this kernel at small lengths";
#else
    KernelTest::SetUp();
#endif
  }
};

template <typename T>
class GpuAttention : public LongAttentionTest {};
TYPED_TEST_SUITE(GpuAttention, FloatTypes);
class GpuAttentionFloat : public LongAttentionTest {};

template <typename T>
constexpr Tolerance long_tolerance() {  // sums over a thousand keys
  return sizeof(T) == 4 ? Tolerance{2e-4, 2e-5} : Tolerance{1e-10, 1e-12};
}

TYPED_TEST(GpuAttention, CausalGqaUnevenLengths) {
  AttentionCase c;
  c.shape = AttentionShape{2, 8, 2, 1000, 1100, 64, 64};
  c.mask.causal = true;
  c.q_offset = 100;
  check_against_cpu<TypeParam>(c, long_tolerance<TypeParam>());
}

TYPED_TEST(GpuAttention, WindowSegmentsAndPadding) {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 4, 777, 777, 32, 48};
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{200}, int64_t{0});
  c.mask.q_segment = sorted_segments(2, 777, 3, 5);
  c.mask.k_segment = c.mask.q_segment;
  c.mask.k_valid.assign(2 * 777, 1);
  for (int64_t j = 700; j < 777; ++j) c.mask.k_valid[j] = 0;
  check_against_cpu<TypeParam>(c, long_tolerance<TypeParam>());
}

TYPED_TEST(GpuAttention, BlockSparseAndFullyMaskedRows) {
  AttentionCase c;
  c.shape = AttentionShape{1, 2, 1, 1024, 1024, 64, 64};
  const auto pattern = kernels::BlockPattern::bigbird(64, 16, 1, 1, 2, 7);
  c.mask.block_size = 64;
  c.mask.block_rows = c.mask.block_cols = 16;
  c.mask.blocks.assign(pattern.allowed().begin(), pattern.allowed().end());
  c.mask.causal = true;
  c.q_offset = -100;  // the first 100 queries see no key
  check_against_cpu<TypeParam>(c, long_tolerance<TypeParam>());
}

TEST_F(GpuAttentionFloat, HeadDim128Causal) {
  AttentionCase c;
  c.shape = AttentionShape{1, 4, 4, 1024, 1024, 128, 128};
  c.mask.causal = true;
  check_against_cpu<float>(c, long_tolerance<float>());
}

}  // namespace
}  // namespace attnscale::test

// The ops' CUDA paths against their CPU paths (label gpu): matmul (cuda::Blas), the fused attention
// and sparsemax attention ops, cross_entropy and the reductions, outputs and every gradient on the
// same inputs, plus fp64 gradient checks through the GPU path. Runs on a GPU, and on the emulated
// device in the emulation build; skips with the reason elsewhere.
#include <cmath>
#include <limits>

#include "framework/core/ops/attention.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/sparsemax.h"
#include "framework/core/tensor/non_finite.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {
namespace {

using Floats = ::testing::Types<float, double>;
template <typename T>
class OpsOnDevice : public DeviceOpTest<T> {};
TYPED_TEST_SUITE(OpsOnDevice, Floats);

template <typename T>
Tensor random(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return Tensor::randn(shape, gen, dtype_of<T>());
}

TYPED_TEST(OpsOnDevice, MatmulBatchedBroadcastAndTransposedOperands) {
  using T = TypeParam;
  const auto tol = device_tolerance<T>();
  // Plain, batch-broadcast ([2, 1] against [3]), transposed views (BLAS's trans flags) and a
  // batch axis with a non-contiguous stride.
  expect_same_on_cpu_and_gpu([](const std::vector<Tensor>& x) { return std::vector<Tensor>{matmul(x[0], x[1])}; },
                             {random<T>({5, 7}, 1), random<T>({7, 3}, 2)}, tol);
  expect_same_on_cpu_and_gpu([](const std::vector<Tensor>& x) { return std::vector<Tensor>{matmul(x[0], x[1])}; },
                             {random<T>({2, 1, 4, 6}, 3), random<T>({3, 6, 5}, 4)}, tol);
  expect_same_on_cpu_and_gpu(
      [](const std::vector<Tensor>& x) {
        return std::vector<Tensor>{matmul(transpose(x[0], -1, -2), transpose(x[1], -1, -2)),
                                   matmul(transpose(x[0], -1, -2), transpose(x[2], 0, 1))};
      },
      {random<T>({2, 6, 4}, 5), random<T>({2, 3, 6}, 6), random<T>({6, 2, 3}, 7)}, tol);
}

TYPED_TEST(OpsOnDevice, MatmulWithAnEmptyInnerAxisGivesZeros) {
  using T = TypeParam;
  expect_same_on_cpu_and_gpu([](const std::vector<Tensor>& x) { return std::vector<Tensor>{matmul(x[0], x[1])}; },
                             {random<T>({3, 0}, 1), random<T>({0, 4}, 2)}, device_tolerance<T>());
}

TEST_F(DeviceTest, MatmulGradcheckThroughTheGpu) {
  expect_gradcheck_on_gpu([](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                          {random<double>({2, 3, 4}, 1).set_requires_grad(),
                           random<double>({4, 2}, 2).set_requires_grad()});
}

// run.allow_tf32 reaches the GEMM on every call (cuda::allow_tf32); on a GPU TF32 changes the last
// bits, so only the switch itself is checked here, and fp32 stays the default.
TEST_F(DeviceTest, MatmulFollowsAllowTf32) {
  ASSERT_FALSE(cuda::allow_tf32());
  const Tensor a = random<float>({8, 8}, 1).to(kGpu), b = random<float>({8, 8}, 2).to(kGpu);
  const Tensor fp32 = matmul(a, b);
  cuda::set_allow_tf32(true);
  const Tensor tf32 = matmul(a, b);
  cuda::set_allow_tf32(false);
  EXPECT_TRUE(same_values(tf32, fp32, Tolerance{2e-2, 2e-2}));  // TF32 keeps 10 mantissa bits
  EXPECT_TRUE(same_values(matmul(a, b), fp32, Tolerance{0, 0}));
}

// An attention op's cases (batch 2, 4 query heads over 2 kv heads): causal GQA with uneven lengths
// (N queries at positions M - N.., M keys); then a window with two segments per row (split at
// `split`), key padding and a fully padded batch row (out 0 on both devices; lse -inf for softmax),
// N keys of value width dv. attend(spec) is the op under test.
struct AttentionSizes {
  int64_t n, m, d, dv, split;
  kernels::Window window;
  double scale;  // 0: 1/sqrt(D)
};

template <typename T, typename Attend>
void expect_attention_cases_match_cpu(Attend attend, const AttentionSizes& z) {
  const auto tol = sizeof(T) == 4 ? Tolerance{2e-4, 2e-5} : device_tolerance<T>();
  const int64_t b = 2, hq = 4, hkv = 2;
  AttentionSpec causal;
  causal.scale = z.scale;
  causal.mask.causal = true;
  causal.q_positions = kernels::Positions::contiguous(z.m - z.n, z.n);
  expect_same_on_cpu_and_gpu(attend(causal), {random<T>({b, hq, z.n, z.d}, 1), random<T>({b, hkv, z.m, z.d}, 2),
                                              random<T>({b, hkv, z.m, z.d}, 3)},
                             tol);

  AttentionSpec masked;
  masked.scale = z.scale;
  masked.mask.window = z.window;
  for (int64_t i = 0; i < b * z.n; ++i) masked.q_segment.push_back(static_cast<int32_t>(i % z.n < z.split ? 0 : 1));
  masked.k_segment = masked.q_segment;
  masked.k_valid.assign(static_cast<size_t>(b * z.n), 1);
  for (int64_t j = 0; j < z.n; ++j) masked.k_valid[static_cast<size_t>(z.n + j)] = 0;  // batch 1: no key
  expect_same_on_cpu_and_gpu(attend(masked), {random<T>({b, hq, z.n, z.d}, 4), random<T>({b, hkv, z.n, z.d}, 5),
                                              random<T>({b, hkv, z.n, z.dv}, 6)},
                             tol);
}

TYPED_TEST(OpsOnDevice, FusedAttentionMatchesCpu) {
  auto attend = [](const AttentionSpec& spec) {
    return [spec](const std::vector<Tensor>& x) {
      const auto [out, lse] = fused_attention_with_lse(x[0], x[1], x[2], spec);
      return std::vector<Tensor>{out, lse};
    };
  };
  expect_attention_cases_match_cpu<TypeParam>(attend, {37, 45, 16, 8, 20, kernels::Window{5, 3}, 0.0});
}

TEST_F(DeviceTest, FusedAttentionGradcheckThroughTheGpu) {
  AttentionSpec spec;
  spec.mask.causal = true;
  expect_gradcheck_on_gpu([&](const std::vector<Tensor>& x) { return fused_attention(x[0], x[1], x[2], spec); },
                          {random<double>({1, 2, 5, 4}, 1).set_requires_grad(),
                           random<double>({1, 1, 5, 4}, 2).set_requires_grad(),
                           random<double>({1, 1, 5, 3}, 3).set_requires_grad()});
}

// The same cases through sparsemax_attention (kernels/cuda/sparsemax_attention.h on the device, the
// general path on the CPU), with scores spread enough (scale 1) for supports of several keys.
TYPED_TEST(OpsOnDevice, SparsemaxAttentionMatchesCpu) {
  auto attend = [](const AttentionSpec& spec) {
    return [spec](const std::vector<Tensor>& x) { return std::vector<Tensor>{sparsemax_attention(x[0], x[1], x[2], spec)}; };
  };
  expect_attention_cases_match_cpu<TypeParam>(attend, {13, 19, 8, 6, 7, kernels::Window{4, 2}, 1.0});
}

TEST_F(DeviceTest, SparsemaxAttentionGradcheckThroughTheGpu) {
  AttentionSpec spec;
  spec.mask.causal = true;
  expect_gradcheck_on_gpu(
      [&](const std::vector<Tensor>& x) { return sparsemax_attention(x[0], x[1], x[2], spec); },
      {random<double>({1, 2, 4, 3}, 1).set_requires_grad(), random<double>({1, 1, 4, 3}, 2).set_requires_grad(),
       random<double>({1, 1, 4, 2}, 3).set_requires_grad()});
}

TYPED_TEST(OpsOnDevice, CrossEntropyEveryReductionWithIgnoredTargets) {
  using T = TypeParam;
  const Tensor targets = Tensor::from(std::vector<int64_t>{3, -100, 0, 9, 4, -100, 1, 2}, {2, 4});
  for (const Reduction reduction : {Reduction::none, Reduction::sum, Reduction::mean}) {
    expect_same_on_cpu_and_gpu(
        [reduction](const std::vector<Tensor>& x) {
          return std::vector<Tensor>{cross_entropy(x[0], x[1], -100, reduction)};
        },
        {random<T>({2, 4, 10}, 1), targets}, device_tolerance<T>());
  }
}

TEST_F(DeviceTest, CrossEntropyRefusesATargetOutOfRangeOnTheGpu) {
  const Tensor logits = random<float>({2, 5}, 1).to(kGpu);
  const Tensor targets = Tensor::from(std::vector<int64_t>{1, 5}, {2}).to(kGpu);
  try {
    cross_entropy(logits, targets);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("target 5 at position 1 is out of range for 5 classes"), std::string::npos)
        << e.what();
  }
}

TEST_F(DeviceTest, CrossEntropyGradcheckThroughTheGpu) {
  const Tensor targets = Tensor::from(std::vector<int64_t>{2, 0, -100}, {3});
  expect_gradcheck_on_gpu(
      [&](const std::vector<Tensor>& x) { return cross_entropy(x[0], targets.to(kGpu), -100, Reduction::mean); },
      {random<double>({3, 4}, 1).set_requires_grad()});
}

TYPED_TEST(OpsOnDevice, ReductionsAlongEveryAxis) {
  using T = TypeParam;
  const auto tol = device_tolerance<T>();
  const Tensor x = random<T>({3, 5, 4}, 1);
  for (const int axis : {0, 1, 2}) {
    SCOPED_TRACE(testing::Message() << "axis " << axis);
    expect_same_on_cpu_and_gpu(
        [axis](const std::vector<Tensor>& in) {
          return std::vector<Tensor>{max(in[0], axis), argmax(in[0], axis, true), logsumexp(in[0], axis, true),
                                     sum(in[0], {axis}), mean(in[0], {axis}, true)};
        },
        {x}, tol);
  }
  expect_same_on_cpu_and_gpu(
      [](const std::vector<Tensor>& in) {
        return std::vector<Tensor>{sum(in[0]), mean(in[0]), sum(in[0], {0, 2}, true), sum_to(in[0], {5, 1})};
      },
      {x}, tol);
}

TEST_F(DeviceTest, MaxGradientGoesToTheFirstMaximum) {
  const Tensor x = Tensor::from(std::vector<double>{1, 7, 7, 2, -3, -3}, {2, 3});
  expect_same_on_cpu_and_gpu([](const std::vector<Tensor>& in) { return std::vector<Tensor>{max(in[0], 1)}; }, {x},
                             device_tolerance<double>());
}

TEST_F(DeviceTest, LogsumexpOfAnAllMinusInfinityRowIsMinusInfinity) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor x = Tensor::from(std::vector<double>{-inf, -inf, 0.5, 1.5}, {2, 2}).to(kGpu);
  const std::vector<double> lse = logsumexp(x, 1).to_vector<double>();
  EXPECT_EQ(lse[0], -inf);
  EXPECT_NEAR(lse[1], 1.5 + std::log1p(std::exp(-1.0)), 1e-12);
}

TEST_F(DeviceTest, ReductionGradchecksThroughTheGpu) {
  expect_gradcheck_on_gpu([](const std::vector<Tensor>& x) { return logsumexp(x[0], 1); },
                          {random<double>({3, 4}, 1).set_requires_grad()});
  expect_gradcheck_on_gpu([](const std::vector<Tensor>& x) { return max(x[0], 0); },
                          {random<double>({3, 4}, 2).set_requires_grad()});
  expect_gradcheck_on_gpu([](const std::vector<Tensor>& x) { return mean(x[0], {1}); },
                          {random<double>({3, 4}, 3).set_requires_grad()});
}

// The trainer's check of every gradient: searched on the device, described from a host copy.
TEST_F(DeviceTest, FirstNonFiniteSearchesDeviceTensors) {
  const Tensor finite = random<float>({4, 3}, 1).to(kGpu);
  std::vector<float> values(12, 0.5f);
  values[7] = std::numeric_limits<float>::infinity();
  values[9] = std::numeric_limits<float>::quiet_NaN();
  const Tensor bad = Tensor::from(values, {4, 3}).to(kGpu);
  EXPECT_FALSE(first_non_finite(NamedTensors{{"finite", finite}}).has_value());
  const auto found = first_non_finite(NamedTensors{{"finite", finite}, {"bad", bad}});
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->tensor, "bad");
  EXPECT_EQ(found->index, 7);
  EXPECT_EQ(found->count, 2);
}

}  // namespace
}  // namespace attnscale::test

// Every op with a bf16 path against its float32 path on the same values: the inputs are
// bf16-representable, so both paths start from identical numbers; the bf16 path computes in
// float32 and rounds its result (and each input gradient) to bf16. Stated tolerance, per tensor:
// max |bf16 - fp32| <= tol x max |fp32|, with tol = 2^-7 for outputs (one or two roundings to
// bf16's 8-bit significand) and 2^-5 for gradients (a backward rounds at each op it passes); any
// NaN or infinity fails.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "framework/core/ops/attention.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/norm.h"
#include "framework/core/ops/ops.h"
#include "framework/nn/rope.h"

namespace attnscale {
namespace {

constexpr double kOutputTol = 1.0 / 128;
constexpr double kGradTol = 1.0 / 32;

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// A float32 tensor of bf16-representable values ~ N(0, stddev^2).
Tensor bf16_values(const Shape& shape, uint64_t seed, double stddev = 1.0) {
  Generator gen(seed);
  return Tensor::randn(shape, gen, DType::f32, stddev).to(DType::bf16).to(DType::f32);
}

void expect_close(const Tensor& got_in, const Tensor& want_in, double tol, const std::string& what) {
  ASSERT_EQ(got_in.shape(), want_in.shape()) << what;
  const std::vector<double> got = got_in.to_vector<double>(), want = want_in.to_vector<double>();
  double scale = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i]) && std::isfinite(want[i])) << what << ": element " << i << " is " << got[i]
                                                                  << " (float32: " << want[i] << ")";
    scale = std::max(scale, std::fabs(want[i]));
    worst = std::max(worst, std::fabs(got[i] - want[i]));
  }
  EXPECT_LE(worst, tol * scale) << what << ": max error " << worst << " against max |float32| " << scale;
}

// Runs `op` on float32 leaves and on bf16 leaves holding the same values; the same upstream
// gradient (bf16-representable) flows back through both.
void check_op(const std::string& name, const std::vector<Tensor>& inputs, const Op& op,
              DType bf16_output = DType::bf16) {
  SCOPED_TRACE(name);
  std::vector<Tensor> f32_leaves, bf16_leaves;
  for (const Tensor& x : inputs) {
    f32_leaves.push_back(x.clone().detach().set_requires_grad(true));
    bf16_leaves.push_back(x.to(DType::bf16).detach().set_requires_grad(true));
  }
  const Tensor want = op(f32_leaves);
  const Tensor got = op(bf16_leaves);
  EXPECT_EQ(got.dtype(), bf16_output) << "the bf16 path changed the output dtype";
  expect_close(got, want, kOutputTol, name + " output");
  const Tensor upstream = bf16_values(want.shape(), 99);
  want.backward(upstream);
  got.backward(upstream.to(got.dtype()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_TRUE(bf16_leaves[i].grad().defined()) << name << " input " << i << " got no gradient";
    EXPECT_EQ(bf16_leaves[i].grad().dtype(), DType::f32) << "a bf16 leaf's gradient accumulates in float32";
    expect_close(bf16_leaves[i].grad(), f32_leaves[i].grad(), kGradTol, name + " gradient " + std::to_string(i));
  }
}

TEST(Bf16Ops, Matmul) {
  check_op("matmul", {bf16_values({2, 5, 16}, 1), bf16_values({16, 7}, 2)},
           [](const auto& x) { return matmul(x[0], x[1]); });
  check_op("matmul transposed", {bf16_values({6, 9}, 3), bf16_values({4, 9}, 4)},
           [](const auto& x) { return matmul(x[0], transpose(x[1], 0, 1)); });
}

TEST(Bf16Ops, ElementwiseWithBroadcasting) {
  const std::vector<Tensor> ab{bf16_values({3, 8}, 5), bf16_values({8}, 6)};
  check_op("add", ab, [](const auto& x) { return add(x[0], x[1]); });
  check_op("sub", ab, [](const auto& x) { return sub(x[0], x[1]); });
  check_op("mul", ab, [](const auto& x) { return mul(x[0], x[1]); });
  check_op("div", {bf16_values({3, 8}, 7), add(abs(bf16_values({8}, 8)), 1.0).to(DType::bf16).to(DType::f32)},
           [](const auto& x) { return div(x[0], x[1]); });
  check_op("scalar", {bf16_values({4, 4}, 9)}, [](const auto& x) { return add(mul(x[0], 0.5), 2.0); });
}

TEST(Bf16Ops, Unary) {
  const std::vector<Tensor> x{bf16_values({4, 16}, 10)};
  check_op("gelu", x, [](const auto& v) { return gelu(v[0]); });
  check_op("relu", x, [](const auto& v) { return relu(v[0]); });
  check_op("silu", x, [](const auto& v) { return silu(v[0]); });
  check_op("tanh", x, [](const auto& v) { return tanh(v[0]); });
  check_op("exp", x, [](const auto& v) { return exp(v[0]); });
  check_op("square", x, [](const auto& v) { return square(v[0]); });
}

TEST(Bf16Ops, Reductions) {
  const std::vector<Tensor> x{bf16_values({3, 4, 32}, 11)};
  check_op("sum", x, [](const auto& v) { return sum(v[0], {1, 2}); });
  check_op("mean", x, [](const auto& v) { return mean(v[0], {-1}, true); });
  check_op("max", x, [](const auto& v) { return max(v[0], -1); });
  check_op("logsumexp", x, [](const auto& v) { return logsumexp(v[0], 1); });
}

TEST(Bf16Ops, Normalisers) {
  const std::vector<Tensor> x{bf16_values({2, 3, 24}, 12, 3.0)};
  check_op("softmax", x, [](const auto& v) { return softmax(v[0], -1); });
  check_op("log_softmax", x, [](const auto& v) { return log_softmax(v[0], 1); });
  check_op("layer_norm", {x[0], add(bf16_values({24}, 13, 0.1), 1.0), bf16_values({24}, 14, 0.1)},
           [](const auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); });
  check_op("rms_norm", {x[0], add(bf16_values({24}, 15, 0.1), 1.0)},
           [](const auto& v) { return rms_norm(v[0], v[1], 1e-6); });
}

TEST(Bf16Ops, IndexingAndViews) {
  const Tensor ids = Tensor::from(std::vector<int64_t>{3, 0, 5, 3, 1, 7}, {2, 3});
  check_op("embedding", {bf16_values({8, 16}, 16)}, [&](const auto& v) { return embedding(v[0], ids); });
  const Tensor index = Tensor::from(std::vector<int64_t>{2, 0, 2}, {3});
  check_op("index_select", {bf16_values({4, 5}, 17)}, [&](const auto& v) { return index_select(v[0], 0, index); });
  const Tensor gather_index = Tensor::from(std::vector<int64_t>{1, 0, 3, 3}, {2, 2});
  check_op("gather", {bf16_values({2, 4}, 18)}, [&](const auto& v) { return gather(v[0], 1, gather_index); });
  check_op("narrow + concat", {bf16_values({4, 10}, 19), bf16_values({4, 3}, 20)},
           [](const auto& v) { return concat({narrow(v[0], 1, 2, 5), v[1]}, 1); });
  const Tensor mask = Tensor::from(std::vector<float>{1, 0, 0, 1, 1, 0}, {2, 3});
  check_op("masked_fill", {bf16_values({2, 3}, 21)}, [&](const auto& v) { return masked_fill(v[0], mask, -2.0); });
}

TEST(Bf16Ops, CrossEntropyKeepsAFloat32Loss) {
  const Tensor targets = Tensor::from(std::vector<int64_t>{1, 4, -100, 0, 2, 3}, {6});
  check_op(
      "cross_entropy", {bf16_values({6, 5}, 22, 2.0)},
      [&](const auto& v) { return cross_entropy(v[0], targets, -100, Reduction::none); }, DType::f32);
}

TEST(Bf16Ops, Dropout) {
  check_op("dropout", {bf16_values({4, 32}, 23)}, [](const auto& v) {
    Generator gen(7);  // the same mask in both paths
    return dropout(v[0], 0.25, gen, true);
  });
}

TEST(Bf16Ops, FusedAttentionWithFloat32Lse) {
  AttentionSpec spec;
  spec.mask.causal = true;
  const std::vector<Tensor> qkv{bf16_values({2, 2, 12, 8}, 24), bf16_values({2, 2, 12, 8}, 25),
                                bf16_values({2, 2, 12, 8}, 26)};
  check_op("fused_attention", qkv, [&](const auto& v) { return fused_attention(v[0], v[1], v[2], spec); });
  std::vector<Tensor> bf16_inputs;
  for (const Tensor& t : qkv) bf16_inputs.push_back(t.to(DType::bf16));
  const auto [out, lse] = fused_attention_with_lse(bf16_inputs[0], bf16_inputs[1], bf16_inputs[2], spec);
  EXPECT_EQ(lse.dtype(), DType::f32) << "softmax statistics stay float32";
  const auto reference = fused_attention_with_lse(qkv[0], qkv[1], qkv[2], spec);
  expect_close(lse, reference.second, 1e-6, "lse (float32 inside, from the same inputs)");
}

TEST(Bf16Ops, Rope) {
  const Tensor positions = Tensor::from(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10});
  check_op("rope", {bf16_values({2, 2, 10, 8}, 27)}, [&](const auto& v) { return nn::apply_rope(v[0], positions); });
}

TEST(Bf16Ops, MixedDtypesAreRefused) {
  EXPECT_THROW(matmul(bf16_values({2, 2}, 28).to(DType::bf16), bf16_values({2, 2}, 29)), UsageError);
  EXPECT_THROW(add(bf16_values({2}, 30).to(DType::bf16), bf16_values({2}, 31)), UsageError);
}

}  // namespace
}  // namespace attnscale

// Activation checkpointing: the recomputed backward is the backward of the uncheckpointed function
// (finite differences in fp64, and equality with the plain graph), parameters get their gradients,
// and without grad mode nothing is recorded.
#include <gtest/gtest.h>

#include "framework/core/autograd/checkpoint.h"
#include "framework/core/autograd/gradcheck.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/random.h"

namespace attnscale {
namespace {

// A small block with a parameter: tanh(x W) * x + softmax(x W) along the last axis.
Tensor block(const Tensor& x, const Tensor& w) {
  const Tensor h = matmul(x, w);
  return add(mul(tanh(h), x), softmax(h, -1));
}

TEST(Checkpoint, GradientsMatchFiniteDifferences) {
  Generator gen(3);
  const Tensor x = Tensor::randn({5, 4}, gen, DType::f64).set_requires_grad();
  const Tensor w = Tensor::randn({4, 4}, gen, DType::f64).set_requires_grad();
  const auto result = autograd::gradcheck(
      [](const std::vector<Tensor>& in) {
        const Tensor& weight = in[1];
        return autograd::checkpoint(
            "block", [weight](const Tensor& t) { return block(t, weight); }, in[0], {weight});
      },
      {x, w});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(Checkpoint, SameGradientsAsThePlainGraph) {
  Generator gen(4);
  const Tensor x0 = Tensor::randn({6, 3}, gen, DType::f64);
  const Tensor w = Tensor::randn({3, 3}, gen, DType::f64).set_requires_grad();
  const Tensor g = Tensor::randn({6, 3}, gen, DType::f64);

  Tensor x = x0.clone().set_requires_grad();
  block(block(x, w), w).backward(g);
  const auto plain_dx = x.grad().to_vector<double>(), plain_dw = w.grad().to_vector<double>();
  w.zero_grad();

  Tensor y = x0.clone().set_requires_grad();
  const auto checkpointed = [&w](const Tensor& t) {
    return autograd::checkpoint("block", [w](const Tensor& in) { return block(in, w); }, t, {w});
  };
  const Tensor out = checkpointed(checkpointed(y));
  EXPECT_TRUE(out.requires_grad());
  out.backward(g);
  EXPECT_EQ(y.grad().to_vector<double>(), plain_dx);
  EXPECT_EQ(w.grad().to_vector<double>(), plain_dw);
}

TEST(Checkpoint, WithoutGradModeItIsThePlainFunction) {
  Generator gen(5);
  const Tensor x = Tensor::randn({2, 3}, gen, DType::f64).set_requires_grad();
  const Tensor w = Tensor::randn({3, 3}, gen, DType::f64).set_requires_grad();
  autograd::NoGradGuard no_grad;
  int calls = 0;
  const Tensor out = autograd::checkpoint(
      "block", [&](const Tensor& t) { ++calls; return block(t, w); }, x, {w});
  EXPECT_FALSE(out.requires_grad());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out.to_vector<double>(), block(x, w).to_vector<double>());
}

}  // namespace
}  // namespace attnscale

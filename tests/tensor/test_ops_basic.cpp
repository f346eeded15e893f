#include <gtest/gtest.h>

#include "framework/core/autograd/gradcheck.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale {
namespace {

Tensor input(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f64, low, high).set_requires_grad();
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
  const auto r = autograd::gradcheck(f, std::move(inputs));
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Broadcast, AddShapes) {
  const Tensor a = Tensor::from(std::vector<double>{1, 2, 3}, {3});
  const Tensor b = Tensor::from(std::vector<double>{10, 20}, {2, 1});
  const Tensor c = add(a, b);
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{11, 12, 13, 21, 22, 23}));
}

TEST(Broadcast, MismatchNamesOpAndShapes) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    add(a, b);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[add]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos) << e.what();
  }
}

TEST(Gradcheck, BinaryBroadcast) {
  for (auto op : {add, sub, mul, div, maximum, minimum}) {
    expect_gradcheck([op](const auto& x) { return op(x[0], x[1]); }, {input({2, 3, 4}, 1), input({3, 1}, 2, 0.5, 2.0)});
  }
  expect_gradcheck([](const auto& x) { return pow(x[0], x[1]); }, {input({2, 3}, 3, 0.5, 2.0), input({3}, 4)});
}

TEST(Gradcheck, Unary) {
  using F = Tensor (*)(const Tensor&);
  for (F op : {F(neg), F(exp), F(tanh), F(sigmoid), F(relu), F(gelu), F(silu), F(abs), F(square)})
    expect_gradcheck([op](const auto& x) { return op(x[0]); }, {input({3, 5}, 5)});
  for (F op : {F(log), F(sqrt), F(rsqrt)})
    expect_gradcheck([op](const auto& x) { return op(x[0]); }, {input({3, 5}, 6, 0.5, 2.0)});
}

TEST(Gradcheck, ViewsOfViews) {
  expect_gradcheck(
      [](const auto& x) {
        const Tensor t = transpose(reshape(x[0], {4, 6}), 0, 1);  // [6, 4], strided
        return mul(narrow(t, 0, 1, 3), expand(x[1], {3, 4}));
      },
      {input({2, 3, 4}, 7), input({1, 4}, 8)});
  expect_gradcheck([](const auto& x) { return flatten(permute(x[0], {2, 0, 1}), 1); }, {input({2, 3, 4}, 9)});
}

TEST(Gradcheck, Reductions) {
  expect_gradcheck([](const auto& x) { return sum(x[0], {0, 2}); }, {input({2, 3, 4}, 10)});
  expect_gradcheck([](const auto& x) { return sum(x[0], {1}, true); }, {input({2, 3, 4}, 11)});
  expect_gradcheck([](const auto& x) { return mean(x[0], {-1}); }, {input({2, 3, 4}, 12)});
  expect_gradcheck([](const auto& x) { return max(x[0], 1); }, {input({2, 5, 3}, 13)});
  expect_gradcheck([](const auto& x) { return logsumexp(x[0], 1); }, {input({2, 5, 3}, 14)});
}

TEST(Gradcheck, MatmulBatchedAndTransposed) {
  expect_gradcheck([](const auto& x) { return matmul(x[0], x[1]); }, {input({2, 3, 4}, 15), input({4, 5}, 16)});
  expect_gradcheck([](const auto& x) { return matmul(transpose(x[0], 1, 2), x[1]); },
                   {input({2, 4, 3}, 17), input({1, 4, 2}, 18)});
}

TEST(Gradcheck, Softmax) {
  expect_gradcheck([](const auto& x) { return softmax(x[0], -1); }, {input({3, 6}, 19)});
  expect_gradcheck([](const auto& x) { return softmax(x[0], 0); }, {input({4, 3}, 20)});
  expect_gradcheck([](const auto& x) { return log_softmax(x[0], 1); }, {input({2, 5, 3}, 21)});
}

TEST(Reductions, Values) {
  const Tensor x = Tensor::from(std::vector<double>{1, 5, 2, 7, 3, 4}, {2, 3});
  EXPECT_EQ(sum(x, {1}).to_vector<double>(), (std::vector<double>{8, 14}));
  EXPECT_EQ(sum(x, {0}).to_vector<double>(), (std::vector<double>{8, 8, 6}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_NEAR(logsumexp(x, 1).to_vector<double>()[0], std::log(std::exp(1) + std::exp(5) + std::exp(2)), 1e-12);
}

TEST(Autograd, AccumulatesAcrossCallsAndNoGrad) {
  Tensor w = Tensor::from(std::vector<float>{2.0f}, {1}).set_requires_grad();
  sum(mul(w, w)).backward();
  sum(mul(w, w)).backward();
  EXPECT_FLOAT_EQ(w.grad().item(), 8.0f);
  {
    autograd::NoGradGuard guard;
    const Tensor y = mul(w, w);
    EXPECT_FALSE(y.requires_grad());
  }
  EXPECT_FALSE(w.detach().requires_grad());
}

TEST(Random, IndependentOfThreadCount) {
  Generator a(42), b(42);
  const Tensor x = Tensor::randn({1 << 17}, a);
  const Tensor y = Tensor::randn({1 << 17}, b);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  EXPECT_NEAR(mean(x).item(), 0.0, 0.02);
}

}  // namespace
}  // namespace attnscale

// Global gradient-norm clipping: the returned norm, the scaling, "off", the non-finite error path,
// sharded norms and independence from the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/threads.h"
#include "framework/core/ops/ops.h"
#include "framework/optim/clip_grad.h"

namespace attnscale {
namespace {

// w.grad = [3, 4], b.grad = [12]: total norm 13.
std::vector<NamedTensor> three_four_twelve(DType dtype = DType::f64) {
  const Tensor w = Tensor::zeros({2}, dtype).set_requires_grad();
  const Tensor b = Tensor::zeros({1}, dtype).set_requires_grad();
  w.set_grad(Tensor::from(std::vector<double>{3, 4}, {2}).to(dtype));
  b.set_grad(Tensor::from(std::vector<double>{12}, {1}).to(dtype));
  return {{"layer.weight", w}, {"layer.bias", b}};
}

std::vector<double> grads_of(const std::vector<NamedTensor>& params) {
  std::vector<double> out;
  for (const auto& p : params) {
    const auto g = p.tensor.grad().to_vector<double>();
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

TEST(ClipGradNorm, ScalesToMaxNormAndReturnsThePreClipNorm) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const auto params = three_four_twelve(dtype);
    EXPECT_DOUBLE_EQ(clip_grad_norm(params, 6.5), 13.0);
    const double coefficient = 6.5 / (13.0 + 1e-6);  // PyTorch's guard
    const auto g = grads_of(params);
    const double tol = dtype == DType::f64 ? 1e-14 : 1e-6;
    EXPECT_NEAR(g[0], 3 * coefficient, tol);
    EXPECT_NEAR(g[1], 4 * coefficient, tol);
    EXPECT_NEAR(g[2], 12 * coefficient, tol);
    EXPECT_NEAR(std::sqrt(grad_sum_of_squares(params)), 6.5, 1e-5);
  }
}

TEST(ClipGradNorm, LeavesGradientsAloneWhenOffOrBelowTheLimit) {
  auto params = three_four_twelve();
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 0.0), 13.0);  // off, but the norm is still returned
  EXPECT_EQ(grads_of(params), (std::vector<double>{3, 4, 12}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 13.5), 13.0);
  EXPECT_EQ(grads_of(params), (std::vector<double>{3, 4, 12}));
  EXPECT_THROW(clip_grad_norm(params, -1.0), UsageError);
}

TEST(ClipGradNorm, SkipsParametersWithoutGradient) {
  auto params = three_four_twelve();
  params[1].tensor.zero_grad();
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 1.0), 5.0);
  EXPECT_NEAR(std::sqrt(grad_sum_of_squares(params)), 1.0, 1e-6);
  params[0].tensor.zero_grad();
  EXPECT_EQ(clip_grad_norm(params, 1.0), 0.0);
}

TEST(ClipGradNorm, StridedGradientIsScaled) {
  Generator gen(5);
  const Tensor g = Tensor::randn({3, 4}, gen, DType::f64);
  const Tensor p = Tensor::zeros({4, 3}, DType::f64).set_requires_grad();
  p.set_grad(transpose(g, 0, 1));
  const std::vector<NamedTensor> params{{"p", p}};
  const double norm = clip_grad_norm(params, 0.5);
  EXPECT_NEAR(norm, std::sqrt(sum(square(g)).item()), 1e-12);
  EXPECT_NEAR(std::sqrt(grad_sum_of_squares(params)), 0.5, 1e-6);
  EXPECT_EQ(p.grad().shape(), (Shape{4, 3}));
  EXPECT_NEAR(p.grad().to_vector<double>()[1], g.to_vector<double>()[4] * 0.5 / (norm + 1e-6), 1e-14);
}

TEST(ClipGradNorm, NonFiniteGradientNamesTheFirstParameterAndChangesNothing) {
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    for (double max_norm : {1.0, 0.0}) {  // also when clipping is off
      auto params = three_four_twelve(DType::f32);
      const Tensor extra = Tensor::zeros({3}).set_requires_grad();
      extra.set_grad(Tensor::from(std::vector<float>{1, static_cast<float>(bad), 2}, {3}));
      params.insert(params.begin() + 1, {"layer.norm.scale", extra});
      params[2].tensor.grad().data<float>()[0] = static_cast<float>(bad);  // layer.bias, later in the list
      try {
        clip_grad_norm(params, max_norm);
        FAIL() << "no error";
      } catch (const NonFiniteGradient& e) {
        const std::string msg = e.what();
        EXPECT_EQ(e.parameter(), "layer.norm.scale");
        EXPECT_NE(msg.find("[clip_grad_norm]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("parameter 'layer.norm.scale' (shape [3]) holds 1 non-finite value(s), the first at flat "
                           "index 1"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find(std::isnan(bad) ? "nan" : "inf"), std::string::npos) << msg;
      }
      EXPECT_EQ(params[0].tensor.grad().to_vector<double>(), (std::vector<double>{3, 4}));
    }
  }
}

TEST(ClipGradNorm, OverflowWithFiniteGradientsIsReportedAsSuch) {
  const Tensor p = Tensor::zeros({2}, DType::f64).set_requires_grad();
  p.set_grad(Tensor::full({2}, 1e200, DType::f64));
  try {
    clip_grad_norm(std::vector<NamedTensor>{{"p", p}}, 1.0);
    FAIL() << "no error";
  } catch (const NonFiniteGradient& e) {
    EXPECT_EQ(e.parameter(), "");
    EXPECT_NE(std::string(e.what()).find("every gradient on this rank is finite"), std::string::npos) << e.what();
  }
}

TEST(ClipGradNorm, ShardedNormUsesTheReducedSum) {
  auto params = three_four_twelve();
  int calls = 0;
  // As if three more ranks held shards with the same sum of squares (169 each): total 676, norm 26.
  const auto sum_across_ranks = [&](double local) {
    ++calls;
    EXPECT_DOUBLE_EQ(local, 169.0);
    return 4 * local;
  };
  EXPECT_DOUBLE_EQ(clip_grad_norm(params, 13.0, sum_across_ranks), 26.0);
  EXPECT_EQ(calls, 1);
  EXPECT_NEAR(grads_of(params)[2], 12 * 13.0 / (26.0 + 1e-6), 1e-14);
}

TEST(ClipGradNorm, LargeTensorNormIsAccurateAndIndependentOfThreadCount) {
  // 300k elements: several reduction blocks and the threaded path.
  Generator gen(11);
  const Tensor g = Tensor::randn({300000}, gen, DType::f32);
  double expected = 0;
  for (float v : g.to_vector<float>()) expected += static_cast<double>(v) * v;
  const Tensor p = Tensor::zeros({300000}).set_requires_grad();
  p.set_grad(g);
  const std::vector<NamedTensor> params{{"p", p}};
  const int threads_before = thread_count();
  set_thread_count(1);
  const double one_thread = grad_sum_of_squares(params);
  set_thread_count(2);
  const double two_threads = grad_sum_of_squares(params);
  set_thread_count(threads_before);
  EXPECT_EQ(one_thread, two_threads);
  EXPECT_NEAR(one_thread, expected, 1e-12 * expected);
}

}  // namespace
}  // namespace attnscale

// Helpers of the encoder-decoder tests: fp64 inputs, setting a module's parameters by name, and
// finite-difference checks of a module's inputs and parameters.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "framework/core/autograd/gradcheck.h"
#include "framework/nn/module.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "tests/test_util/compare.h"

namespace attnscale::testing {

inline Tensor random_f64(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  Tensor t = Tensor::rand(shape, gen, DType::f64, -1.0, 1.0);
  if (requires_grad) t.set_requires_grad();
  return t;
}

inline Tensor f64(const std::vector<double>& values, const Shape& shape) { return Tensor::from(values, shape); }

inline Tensor i64(const std::vector<int64_t>& values, const Shape& shape) { return Tensor::from(values, shape); }

// Overwrites the parameter `name` of m (no autograd).
inline void set_parameter(const nn::Module& m, const std::string& name, const std::vector<double>& values) {
  for (const auto& p : m.named_parameters()) {
    if (p.name != name) continue;
    ASSERT_EQ(p.tensor.numel(), static_cast<int64_t>(values.size())) << name;
    Tensor target = p.tensor;
    target.copy_(Tensor::from(values, target.shape()).to(target.dtype()));
    return;
  }
  FAIL() << "no parameter " << name;
}

// Checks d f / d (inputs and every parameter of m) by central differences in fp64.
template <typename F>
void expect_gradcheck(const nn::Module& m, std::vector<Tensor> inputs, F f, double tolerance = 1e-6) {
  const size_t own = inputs.size();
  for (const auto& p : m.named_parameters()) inputs.push_back(p.tensor);
  autograd::GradcheckOptions options;
  options.tolerance = tolerance;
  const auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) -> Tensor {
        return f(std::vector<Tensor>(in.begin(), in.begin() + static_cast<long>(own)));
      },
      inputs, options);
  EXPECT_TRUE(r.ok) << r.report;
}

inline void expect_near_all(const Tensor& actual, const std::vector<double>& expected, double tolerance,
                            const std::string& what) {
  const auto a = test::f64_values(actual);
  ASSERT_EQ(a.size(), expected.size()) << what;
  const test::WorstDiff worst = test::worst_diff(a, expected);
  EXPECT_LE(worst.diff, tolerance) << what << ": worst difference " << worst.diff << " at element " << worst.at
                                   << " (" << a[worst.at] << " vs " << expected[worst.at] << ")";
}

}  // namespace attnscale::testing

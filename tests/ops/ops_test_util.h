// Helpers shared by the tests of framework/core/ops/: random fp64 inputs, gradcheck with its report on
// failure, and checks that an error names the op and the values involved.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "framework/core/autograd/gradcheck.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale::test {

// Uniform fp64 values in [low, high) that require a gradient.
inline Tensor input(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f64, low, high).set_requires_grad();
}

inline Tensor ids(const std::vector<int64_t>& values, const Shape& shape) { return Tensor::from(values, shape); }

inline void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
  const auto result = autograd::gradcheck(f, std::move(inputs));  // tolerance 1e-6 (relative)
  EXPECT_TRUE(result.ok) << result.report;
}

// Runs `f`, expects a UsageError whose message contains every one of `parts`.
inline void expect_usage_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

}  // namespace attnscale::test

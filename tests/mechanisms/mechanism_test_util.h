// Helpers shared by the mechanism tests: fp64 inputs, finite-difference checks of a module's
// input and parameter gradients, error-message checks, and (from tests/test_util/compare.h) the
// NaN-aware worst difference.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "framework/core/autograd/gradcheck.h"
#include "framework/nn/module.h"
#include "framework/core/tensor/tensor.h"
#include "tests/test_util/compare.h"

namespace attnscale::test {

// Uniform fp64 values in [low, high) that require a gradient.
inline Tensor input(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f64, low, high).set_requires_grad();
}

// d f / d(inputs and every parameter of m) by central differences (tolerance 1e-6, relative).
inline void expect_module_gradcheck(const nn::Module& m, std::vector<Tensor> inputs,
                                    const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  const size_t n_inputs = inputs.size();
  for (const auto& p : m.named_parameters()) inputs.push_back(p.tensor);
  const auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return f(std::vector<Tensor>(in.begin(), in.begin() + n_inputs)); },
      inputs);
  EXPECT_TRUE(r.ok) << r.report;
}

inline void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs) {
  const auto r = autograd::gradcheck(f, std::move(inputs));
  EXPECT_TRUE(r.ok) << r.report;
}

// Runs f, expects an attnscale::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

}  // namespace attnscale::test

// Helpers of the memory-network and temporal-attention tests: the message of a failing call, and a
// module's parameter values by name.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "framework/nn/module.h"

namespace attnscale::testing {

// The what() of the attnscale::Error f throws ("" when it throws none).
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The values of m's parameter `name` as fp64 (a test failure, and empty, when there is none).
inline std::vector<double> parameter_values(const nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.name == name) return p.tensor.detach().to(DType::f64).contiguous().to_vector<double>();
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

}  // namespace attnscale::testing

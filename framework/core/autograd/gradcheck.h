// Finite-difference gradient check (fp64): compares the autograd gradient of
// sum(f(inputs) * w) for a fixed random weight w against central differences.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::autograd {

struct GradcheckResult {
  bool ok = true;
  double max_rel_error = 0;  // over all inputs and elements
  std::string report;        // per input: worst element, analytic vs numeric
};

struct GradcheckOptions {
  double eps = 1e-6;
  double tolerance = 1e-6;  // on |a - n| / max(1, |a|, |n|)
  uint64_t seed = 7;
};

// `inputs` must be float64; those with requires_grad() are checked.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          GradcheckOptions options = {});

}  // namespace attnscale::autograd

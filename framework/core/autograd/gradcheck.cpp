#include "framework/core/autograd/gradcheck.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          GradcheckOptions options) {
  for (const Tensor& t : inputs)
    ATTNSCALE_CHECK(t.dtype() == DType::f64 || !t.requires_grad(), "gradcheck", "inputs must be float64");
  // Weight the output by a fixed random tensor so every output element matters differently.
  Tensor weight;
  {
    NoGradGuard no_grad;
    Generator gen(options.seed);
    weight = Tensor::randn(f(inputs).shape(), gen, DType::f64);
  }
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), weight)); };

  for (Tensor& t : inputs)
    if (t.requires_grad()) t.zero_grad();
  objective(inputs).backward();

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t idx = 0; idx < inputs.size(); ++idx) {
    Tensor& x = inputs[idx];
    if (!x.requires_grad()) continue;
    ATTNSCALE_CHECK(x.is_contiguous(), "gradcheck", "input {} must be contiguous", idx);
    const Tensor analytic = x.grad().defined() ? x.grad().contiguous() : Tensor::zeros(x.shape(), DType::f64);
    double* px = x.data<double>();
    double worst = 0;
    int64_t worst_at = -1;
    double worst_a = 0, worst_n = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = px[i];
      px[i] = saved + options.eps;
      const double up = objective(inputs).item();
      px[i] = saved - options.eps;
      const double down = objective(inputs).item();
      px[i] = saved;
      const double numeric = (up - down) / (2 * options.eps);
      const double a = analytic.data<double>()[i];
      const double rel = std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)});
      if (!(rel <= worst)) {  // also catches NaN
        worst = std::isnan(rel) ? INFINITY : rel;
        worst_at = i, worst_a = a, worst_n = numeric;
      }
    }
    result.max_rel_error = std::max(result.max_rel_error, worst);
    result.report += fmt::format("input {} {}: max rel error {:.3e} at element {} (analytic {:.10g}, numeric {:.10g})\n",
                                 idx, shape_str(x.shape()), worst, worst_at, worst_a, worst_n);
  }
  result.ok = result.max_rel_error <= options.tolerance;
  return result;
}

}  // namespace attnscale::autograd

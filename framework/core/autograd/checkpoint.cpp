#include "framework/core/autograd/checkpoint.h"

#include <memory>

#include "framework/core/autograd/node.h"

namespace attnscale::autograd {

Tensor checkpoint(std::string name, std::function<Tensor(const Tensor&)> fn, const Tensor& input,
                  const std::vector<Tensor>& params) {
  std::vector<Tensor> inputs{input};
  inputs.insert(inputs.end(), params.begin(), params.end());
  if (!needs_grad(inputs)) return fn(input);
  Tensor output;
  {
    NoGradGuard no_grad;
    output = fn(input);
  }
  const size_t count = inputs.size();
  return record(output, std::move(name), std::move(inputs),
                [fn = std::move(fn), saved = input.detach(), count](const Tensor& grad_output) {
                  EnableGradGuard recording;
                  Tensor x = saved.detach();
                  x.set_requires_grad();
                  run_backward(fn(x), grad_output);  // parameters receive their gradients here
                  std::vector<Tensor> grads(count);
                  grads[0] = x.grad();
                  return grads;
                });
}

}  // namespace attnscale::autograd

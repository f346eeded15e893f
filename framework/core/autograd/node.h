// The autograd tape: each differentiable op records a Node on its output holding the op's inputs
// and a function from the output's gradient to the inputs' gradients. The graph is dynamic: it
// is built by running the forward and freed when the outputs are.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::autograd {

// Gradients for each input, in order; an undefined Tensor means "no gradient for this input".
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;
  BackwardFn backward;
};

bool grad_enabled();

// While alive, ops record nothing (inference, optimizer updates, the backward pass itself).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// While alive, ops record again (activation checkpointing recomputes a forward inside a backward).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires a gradient.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `output` when needs_grad(inputs); returns output. The backward function must
// not capture `output` itself (that would make a cycle): capture output.detach() instead.
Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward);

// Runs backward from `root` seeded with `grad_root`, accumulating into the leaves' .grad.
void run_backward(const Tensor& root, const Tensor& grad_root);

}  // namespace attnscale::autograd

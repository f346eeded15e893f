#include <unordered_map>
#include <unordered_set>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"

namespace attnscale::autograd {
namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor output, std::string name, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return output;
  auto node = std::make_shared<Node>(Node{std::move(name), std::move(inputs), std::move(backward)});
  output.impl().requires_grad = true;
  output.impl().grad_fn = std::move(node);
  return output;
}

void run_backward(const Tensor& root, const Tensor& grad_root) {
  ATTNSCALE_CHECK(root.requires_grad(), "backward", "the tensor does not require a gradient");
  ATTNSCALE_CHECK(grad_root.shape() == root.shape(), "backward", "gradient shape {} does not match tensor shape {}",
                  shape_str(grad_root.shape()), shape_str(root.shape()));
  NoGradGuard no_grad;

  // Topological order of the tensors with a grad_fn, by iterative depth-first search.
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> visited;
  std::vector<std::pair<TensorImpl*, size_t>> stack;
  if (root.grad_fn()) stack.emplace_back(&root.impl(), 0);
  visited.insert(&root.impl());
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    const auto& inputs = impl->grad_fn->inputs;
    if (next < inputs.size()) {
      TensorImpl* child = inputs[next++].impl_ptr().get();
      if (child && child->grad_fn && visited.insert(child).second) stack.emplace_back(child, 0);
    } else {
      order.push_back(impl);
      stack.pop_back();
    }
  }

  std::unordered_map<TensorImpl*, Tensor> grads;
  auto accumulate = [&](const Tensor& target, const Tensor& g) {
    TensorImpl* key = target.impl_ptr().get();
    ATTNSCALE_CHECK(g.shape() == target.shape(), "backward", "gradient of shape {} for a tensor of shape {}",
                    shape_str(g.shape()), shape_str(target.shape()));
    if (!target.grad_fn()) {  // a leaf; a bf16 leaf's gradient accumulates in float32 (model.dtype bf16)
      const Tensor leaf_g = target.dtype() == DType::bf16 ? g.to(DType::f32) : g;
      Tensor existing = target.grad();
      target.set_grad(existing.defined() ? add(existing, leaf_g) : leaf_g.contiguous().clone());
      return;
    }
    auto it = grads.find(key);
    if (it == grads.end())
      grads.emplace(key, g);
    else
      it->second = add(it->second, g);
  };

  if (!root.grad_fn()) {
    accumulate(root, grad_root);
    return;
  }
  grads.emplace(&root.impl(), grad_root);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* impl = *it;
    auto found = grads.find(impl);
    if (found == grads.end()) continue;  // no gradient flows here
    const Tensor grad_out = found->second;
    grads.erase(found);
    const Node& node = *impl->grad_fn;
    std::vector<Tensor> input_grads = node.backward(grad_out);
    ATTNSCALE_CHECK(input_grads.size() == node.inputs.size(), "backward",
                    "op '{}' returned {} gradients for {} inputs", node.name, input_grads.size(), node.inputs.size());
    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Tensor& input = node.inputs[i];
      if (input_grads[i].defined() && input.defined() && input.requires_grad()) accumulate(input, input_grads[i]);
    }
  }
}

}  // namespace attnscale::autograd

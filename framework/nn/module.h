// Module: a node in a tree of layers owning named parameters and buffers. Names are hierarchical
// ("blocks.1.mlp.fc1.weight") and stable: checkpoints, optimizer state and gradient reduction key
// on them. Children are registered in construction order, which fixes the parameter order.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor/named_tensor.h"

namespace attnscale::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  void zero_grad();

 protected:
  // Marks `t` as a trainable parameter (requires_grad) and returns it.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    children_.emplace_back(name, child);
    return child;
  }

 private:
  void collect(const std::string& prefix, bool parameters, NamedTensors& out) const;

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace attnscale::nn

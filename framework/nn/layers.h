// Basic layers. Initialisation follows PyTorch's defaults so that results are comparable.
#pragma once

#include <string>

#include "framework/nn/module.h"
#include "framework/core/tensor/random.h"

namespace attnscale::nn {

// y = x W^T + b, x [..., in] -> [..., out]; W [out, in] ~ U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }

 private:
  Tensor weight_, bias_;
};

// A normalisation over the last axis (LayerNorm or RMSNorm, chosen by config).
class Norm : public Module {
 public:
  virtual Tensor forward(const Tensor& x) const = 0;
};

// Normalises over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta.
class LayerNorm : public Norm {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;

 private:
  Tensor gamma_, beta_;
  double eps_;
};

// x / sqrt(mean(x^2) + eps) * gamma (Zhang & Sennrich 2019).
class RMSNorm : public Norm {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-6, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;

 private:
  Tensor gamma_;
  double eps_;
};

// "layernorm" or "rmsnorm".
std::shared_ptr<Norm> make_norm(const std::string& kind, int64_t dim, DType dtype = DType::f32);

// Token embedding table [num, dim] ~ N(0, init_std^2); lookup of int64 ids of any shape.
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Generator& gen, double init_std = 1.0, DType dtype = DType::f32);
  Tensor forward(const Tensor& ids) const;
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
};

// Inverted dropout whose mask comes from a counter-based generator (thread-count independent).
class Dropout : public Module {
 public:
  explicit Dropout(double p) : p_(p) {}
  Tensor forward(const Tensor& x, Generator& gen) const;

 private:
  double p_;
};

enum class Activation { gelu, relu, silu, tanh };

// fc2(act(fc1(x))): the Transformer feed-forward block.
class MLP : public Module {
 public:
  MLP(int64_t dim, int64_t hidden, Activation act, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;

 private:
  std::shared_ptr<Linear> fc1_, fc2_;
  Activation act_;
};

Tensor activate(const Tensor& x, Activation act);

}  // namespace attnscale::nn

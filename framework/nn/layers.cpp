#include "framework/nn/layers.h"

#include <cmath>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/nn_functional.h"
#include "framework/core/ops/norm.h"
#include "framework/core/ops/ops.h"

namespace attnscale::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen, DType dtype) {
  ATTNSCALE_CHECK(in_features > 0 && out_features > 0, "Linear", "sizes must be positive, got {} -> {}", in_features,
                  out_features);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  weight_ = register_parameter("weight", Tensor::rand({out_features, in_features}, gen, dtype, -bound, bound));
  if (bias) bias_ = register_parameter("bias", Tensor::rand({out_features}, gen, dtype, -bound, bound));
}

Tensor Linear::forward(const Tensor& x) const {
  const int64_t in = weight_.shape()[1];
  ATTNSCALE_CHECK(x.dim() >= 1 && x.shape().back() == in, "Linear", "input {} does not end in {} features",
                  shape_str(x.shape()), in);
  // One GEMM over all leading axes: [rows, in] @ W^T (W^T is a transposed view: no copy).
  Shape out_shape = x.shape();
  out_shape.back() = weight_.shape()[0];
  Tensor y = matmul(reshape(x, {-1, in}), transpose(weight_, 0, 1));
  if (bias_.defined()) y = add(y, bias_);
  return reshape(y, out_shape);
}

LayerNorm::LayerNorm(int64_t dim, double eps, DType dtype) : eps_(eps) {
  gamma_ = register_parameter("weight", Tensor::ones({dim}, dtype));
  beta_ = register_parameter("bias", Tensor::zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, gamma_, beta_, eps_); }

RMSNorm::RMSNorm(int64_t dim, double eps, DType dtype) : eps_(eps) {
  gamma_ = register_parameter("weight", Tensor::ones({dim}, dtype));
}

Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, gamma_, eps_); }

std::shared_ptr<Norm> make_norm(const std::string& kind, int64_t dim, DType dtype) {
  if (kind == "layernorm") return std::make_shared<LayerNorm>(dim, 1e-5, dtype);
  if (kind == "rmsnorm") return std::make_shared<RMSNorm>(dim, 1e-6, dtype);
  throw UsageError(fmt::format("[norm] unknown normalisation '{}' (layernorm, rmsnorm)", kind));
}

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, double init_std, DType dtype) {
  weight_ = register_parameter("weight", Tensor::randn({num, dim}, gen, dtype, init_std));
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight_, ids); }

Tensor Dropout::forward(const Tensor& x, Generator& gen) const { return dropout(x, p_, gen, training()); }

Tensor activate(const Tensor& x, Activation act) {
  switch (act) {
    case Activation::gelu: return gelu(x);
    case Activation::relu: return relu(x);
    case Activation::silu: return silu(x);
    case Activation::tanh: return tanh(x);
  }
  return x;
}

MLP::MLP(int64_t dim, int64_t hidden, Activation act, Generator& gen, DType dtype) : act_(act) {
  fc1_ = register_module("fc1", std::make_shared<Linear>(dim, hidden, true, gen, dtype));
  fc2_ = register_module("fc2", std::make_shared<Linear>(hidden, dim, true, gen, dtype));
}

Tensor MLP::forward(const Tensor& x) const { return fc2_->forward(activate(fc1_->forward(x), act_)); }

}  // namespace attnscale::nn

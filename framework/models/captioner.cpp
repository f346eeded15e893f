#include "framework/models/captioner.h"

#include <cmath>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {

Captioner::Captioner(const CaptionerOptions& o, Generator& gen, DType dtype) : options_(o) {
  ATTNSCALE_CHECK(o.vocab_size > 0 && o.feature_size > 0 && o.hidden > 0, "captioner",
                  "vocab_size ({}), feature_size ({}) and hidden ({}) must be positive", o.vocab_size, o.feature_size,
                  o.hidden);
  const int64_t d = o.hidden;
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(o.vocab_size, d, gen,
                                                                    1.0 / std::sqrt(static_cast<double>(d)), dtype));
  region_proj_ = register_module("region_proj", std::make_shared<nn::Linear>(o.feature_size, d, true, gen, dtype));
  global_proj_ = register_module("global_proj", std::make_shared<nn::Linear>(o.feature_size, d, true, gen, dtype));
  lstm_ = register_module("lstm", std::make_shared<LstmCell>(2 * d, d, gen, dtype));
  if (o.sentinel) sentinel_ = register_module("sentinel", std::make_shared<attention::VisualSentinel>(2 * d, d, gen, dtype));
  attention_ = register_module("attention", std::make_shared<attention::SentinelAttention>(d, d, gen, dtype));
  out_proj_ = register_module("out_proj", std::make_shared<nn::Linear>(d, o.vocab_size, true, gen, dtype));
}

Captioner::Image Captioner::encode(const Tensor& features) const {
  ATTNSCALE_CHECK(features.dim() == 3 && features.shape()[2] == options_.feature_size, "captioner",
                  "features must be [B, k, {}], got {}", options_.feature_size, shape_str(features.shape()));
  const Tensor regions = relu(region_proj_->forward(features));
  const Tensor global = relu(global_proj_->forward(mean(features, {1})));
  return {regions, attention_->project_regions(regions), options_.global_feature ? global : mul(global, 0.0)};
}

Captioner::Step Captioner::step(const Image& image, const Tensor& words, const LstmState& state) const {
  const Tensor x = concat({embed_->forward(words), image.global}, 1);  // [B, 2d]
  const LstmState next = lstm_->forward(x, state);
  const Tensor s = sentinel_ ? sentinel_->forward(x, state.h, next.c) : Tensor();
  const attention::SentinelAttention::Output a = attention_->forward(image.regions, image.projected, next.h, s);
  return {next, out_proj_->forward(add(a.context, next.h)), a.alpha, a.beta};
}

CaptionerOutput Captioner::stack_steps(const std::vector<Step>& steps) {
  std::vector<Tensor> logits, alpha, beta;
  for (const Step& s : steps) logits.push_back(s.logits), alpha.push_back(s.alpha), beta.push_back(s.beta);
  return {stack(logits, 1), stack(alpha, 1), stack(beta, 1)};
}

CaptionerOutput Captioner::forward(const Tensor& features, const Tensor& inputs) const {
  ATTNSCALE_CHECK(inputs.dim() == 2 && inputs.dtype() == DType::i64 && inputs.shape()[0] == features.shape()[0],
                  "captioner", "inputs must be int64 [{}, T], got {} {}", features.shape()[0],
                  dtype_name(inputs.dtype()), shape_str(inputs.shape()));
  const Image image = encode(features);
  LstmState state = lstm_->initial_state(inputs.shape()[0]);
  std::vector<Step> steps;
  for (int64_t t = 0; t < inputs.shape()[1]; ++t) {
    steps.push_back(step(image, squeeze(narrow(inputs, 1, t, 1), 1), state));
    state = steps.back().state;
  }
  return stack_steps(steps);
}

CaptionerOutput Captioner::generate(const Tensor& features, int64_t bos, int64_t steps_count) const {
  autograd::NoGradGuard no_grad;
  const Image image = encode(features);
  const int64_t b = features.shape()[0];
  LstmState state = lstm_->initial_state(b);
  Tensor words = Tensor::full({b}, static_cast<double>(bos), DType::i64);
  std::vector<Step> steps;
  for (int64_t t = 0; t < steps_count; ++t) {
    steps.push_back(step(image, words, state));
    state = steps.back().state;
    words = argmax(steps.back().logits, -1);
  }
  return stack_steps(steps);
}

}  // namespace attnscale::models

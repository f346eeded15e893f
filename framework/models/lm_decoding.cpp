#include "framework/models/lm_decoding.h"

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::models {
namespace {

// The next token from the logits of the last position ([1, N, vocab]).
int64_t next_token(const Tensor& logits, const GenerateOptions& options, Generator& gen) {
  const int64_t n = logits.shape()[1], vocab = logits.shape()[2];
  const Tensor last = reshape(narrow(logits, 1, n - 1, 1), {vocab});
  if (options.temperature <= 0) return argmax(last, 0).to_vector<int64_t>()[0];
  const std::vector<double> p = softmax(mul(last.to(DType::f64), 1.0 / options.temperature), 0).to_vector<double>();
  const double u = Generator::uniform(gen.seed(), gen.reserve(1));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    if ((sum += p[static_cast<size_t>(i)]) > u) return i;
  return vocab - 1;  // u above the rounded total
}

Tensor ids_tensor(const std::vector<int64_t>& ids) { return Tensor::from(ids, {1, static_cast<int64_t>(ids.size())}); }

}  // namespace

Generated generate(TransformerLM& model, const std::vector<int64_t>& prompt, const GenerateOptions& options) {
  const int64_t vocab = model.options().vocab_size;
  ATTNSCALE_CHECK(!prompt.empty(), "generate", "the prompt is empty: give at least one token");
  for (const int64_t id : prompt)
    ATTNSCALE_CHECK(id >= 0 && id < vocab, "generate", "prompt token {} is outside the vocabulary of {}", id, vocab);
  ATTNSCALE_CHECK(options.new_tokens >= 0, "generate", "new_tokens must be >= 0, got {}", options.new_tokens);
  autograd::NoGradGuard no_grad;
  model.train(false);
  Generator sampling(options.seed);
  Generated out{prompt, 0};
  if (options.use_cache) {
    LMDecodeState state = model.start_decoding(options.decode);
    Tensor logits = model.forward_cached(ids_tensor(prompt), state);
    out.cache_elements_per_token = state.elements_per_token();
    for (int64_t t = 0; t < options.new_tokens; ++t) {
      out.tokens.push_back(next_token(logits, options, sampling));
      if (t + 1 < options.new_tokens) logits = model.forward_cached(ids_tensor({out.tokens.back()}), state);
    }
    return out;
  }
  Generator no_dropout(0);
  for (int64_t t = 0; t < options.new_tokens; ++t) {
    const Tensor logits =
        model.forward(ids_tensor(out.tokens), Tensor::arange(static_cast<int64_t>(out.tokens.size())), no_dropout);
    out.tokens.push_back(next_token(logits, options, sampling));
  }
  return out;
}

}  // namespace attnscale::models

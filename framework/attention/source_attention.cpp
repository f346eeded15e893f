#include "framework/attention/source_attention.h"

#include <limits>
#include <utility>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale::attention {

SourceAttention::SourceAttention(std::string name, std::shared_ptr<Score> score)
    : name_(std::move(name)), score_(register_module("score", std::move(score))) {}

SourceMemory SourceAttention::prepare(const Tensor& states, const Tensor& lengths) const {
  ATTNSCALE_CHECK(states.dim() == 3 && is_floating(states.dtype()), name_,
                  "encoder states must be a floating [B, S, D] tensor, got {} {}", dtype_name(states.dtype()),
                  shape_str(states.shape()));
  const int64_t batch = states.shape()[0], length = states.shape()[1];
  ATTNSCALE_CHECK(length >= 1, name_, "the source has no positions ({})", shape_str(states.shape()));
  SourceMemory memory;
  memory.states = states;
  memory.keys = score_->prepare_keys(states);
  memory.lengths = lengths.defined() ? lengths : Tensor::full({batch}, static_cast<double>(length), DType::i64);
  ATTNSCALE_CHECK(memory.lengths.dtype() == DType::i64 && memory.lengths.shape() == Shape({batch}), name_,
                  "source lengths must be int64 [{}], got {} {}", batch, dtype_name(memory.lengths.dtype()),
                  shape_str(memory.lengths.shape()));
  const auto lens = memory.lengths.to_vector<int64_t>();
  std::vector<double> padding(static_cast<size_t>(batch * length));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = lens[static_cast<size_t>(b)];
    ATTNSCALE_CHECK(n >= 1 && n <= length, name_, "source length {} of sequence {} is outside [1, {}]", n, b, length);
    for (int64_t s = n; s < length; ++s) padding[static_cast<size_t>(b * length + s)] = 1.0;
  }
  memory.padding = Tensor::from(padding, {batch, length}).to(states.dtype());
  return memory;
}

Tensor SourceAttention::auxiliary_loss(const std::vector<AttentionRead>&, const Tensor&, const Tensor&) { return {}; }

Tensor mask_scores(const Tensor& scores, const Tensor& excluded) {
  return masked_fill(scores, excluded, -std::numeric_limits<double>::infinity());
}

Tensor masked_softmax(const Tensor& scores, const Tensor& excluded) {
  return softmax(mask_scores(scores, excluded), -1);
}

Tensor read_out(const Tensor& weights, const Tensor& states) {
  ATTNSCALE_CHECK(weights.dim() == 2 && states.dim() == 3 && weights.shape()[0] == states.shape()[0] &&
                      weights.shape()[1] == states.shape()[1],
                  "attention read-out", "weights {} do not match states {} (want [B, S] and [B, S, D])",
                  shape_str(weights.shape()), shape_str(states.shape()));
  return squeeze(matmul(unsqueeze(weights, 1), states), 1);
}

AttentionRead soft_read(const Tensor& scores, const SourceMemory& memory) {
  AttentionRead read;
  read.weights = masked_softmax(scores, memory.padding);
  read.context = read_out(read.weights, memory.states);
  return read;
}

Tensor one_hot_rows(const Tensor& positions, int64_t length, DType dtype) {
  const int64_t batch = positions.numel();
  const Tensor index = reshape(positions, {batch, 1});
  return scatter_add(Tensor::zeros({batch, length}, dtype), 1, index, Tensor::ones({batch, 1}, dtype));
}

}  // namespace attnscale::attention

#include "framework/attention/memory.h"

#include "framework/core/ops/ops.h"

namespace attnscale::attention {

MemoryAttention::MemoryAttention(const MemoryAttentionOptions& options, Generator& gen, DType dtype)
    : SourceAttention("memory", std::make_shared<DotScore>()), options_(options) {
  ATTNSCALE_CHECK(options.dim >= 1, name_, "option dim must be >= 1, got {}", options.dim);
  ATTNSCALE_CHECK(options.hops >= 1, name_, "option hops must be >= 1, got {}", options.hops);
  if (options.query_map)
    query_map_ =
        register_module("query_map", std::make_shared<nn::Linear>(options.dim, options.dim, false, gen, dtype));
}

AttentionRead MemoryAttention::forward(const Tensor& query, const SourceMemory& memory, int64_t, Generator&) const {
  return soft_read(score_->forward(query, memory.keys), memory);
}

SourceMemory MemoryAttention::hop_memory(const Tensor& input_memory, const Tensor& output_memory,
                                         const Tensor& lengths) const {
  for (const Tensor* t : {&input_memory, &output_memory})
    ATTNSCALE_CHECK(t->defined() && t->dim() == 3 && t->shape()[2] == options_.dim, name_,
                    "{} memory must be [B, M, {}] (option dim), got {}", t == &input_memory ? "input" : "output",
                    options_.dim, t->defined() ? shape_str(t->shape()) : std::string("nothing"));
  ATTNSCALE_CHECK(input_memory.shape() == output_memory.shape() && input_memory.dtype() == output_memory.dtype(), name_,
                  "input memory {} and output memory {} differ in shape or dtype", shape_str(input_memory.shape()),
                  shape_str(output_memory.shape()));
  // The output memories are what is read; the dot score's keys are the input memories as they are.
  SourceMemory memory = prepare(output_memory, lengths);
  memory.keys = score_->prepare_keys(input_memory);
  return memory;
}

MemoryReadout MemoryAttention::read(const Tensor& query, std::span<const SourceMemory> hops, bool linear) const {
  ATTNSCALE_CHECK(static_cast<int64_t>(hops.size()) == options_.hops, name_,
                  "option hops is {} but {} hop memories were given", options_.hops, hops.size());
  ATTNSCALE_CHECK(query.dim() == 2 && query.shape()[1] == options_.dim, name_,
                  "query must be [B, {}] (option dim), got {}", options_.dim, shape_str(query.shape()));
  MemoryReadout out;
  Tensor state = query;
  for (const SourceMemory& memory : hops) {
    ATTNSCALE_CHECK(memory.keys.shape()[0] == query.shape()[0] && memory.keys.dtype() == query.dtype(), name_,
                    "memory {} does not match the query {} in batch or dtype", shape_str(memory.keys.shape()),
                    shape_str(query.shape()));
    const Tensor scores = score_->forward(state, memory.keys);
    AttentionRead hop;
    if (linear) {
      // Linear start: the raw scores are the weights; padded slots still read nothing.
      hop.weights = mul(scores, add(neg(memory.padding), 1.0));
      hop.context = read_out(hop.weights, memory.states);
    } else {
      hop = soft_read(scores, memory);
    }
    state = add(query_map_ ? query_map_->forward(state) : state, hop.context);
    out.weights.push_back(hop.weights);
  }
  out.state = state;
  return out;
}

}  // namespace attnscale::attention

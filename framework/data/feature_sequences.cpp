#include "framework/data/feature_sequences.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "framework/core/tensor/random.h"

namespace attnscale::data {
namespace {

// Sequence b of batch i draws from its own counter range, so it depends on nothing else.
constexpr uint64_t kDrawsPerSequence = uint64_t{1} << 20;

}  // namespace

FeatureSequenceTask::FeatureSequenceTask(const FeatureSequenceSpec& spec) : spec_(spec) {
  ATTNSCALE_CHECK(spec.classes >= 2, "feature_sequences", "classes must be >= 2, got {}", spec.classes);
  ATTNSCALE_CHECK(spec.events >= 1, "feature_sequences", "events must be >= 1, got {}", spec.events);
  ATTNSCALE_CHECK(spec.target == FeatureTarget::sequence || spec.events == 1, "feature_sequences",
                  "a label is the class of one marked frame: events must be 1, got {}", spec.events);
  ATTNSCALE_CHECK(spec.min_steps >= spec.events && spec.min_steps <= spec.max_steps, "feature_sequences",
                  "steps need events ({}) <= min_steps <= max_steps, got {} and {}", spec.events, spec.min_steps,
                  spec.max_steps);
  ATTNSCALE_CHECK(spec.feature_dim >= spec.classes + spec.events, "feature_sequences",
                  "feature_dim ({}) must hold classes + events = {} channels", spec.feature_dim,
                  spec.classes + spec.events);
  ATTNSCALE_CHECK(static_cast<uint64_t>(spec.max_steps * (spec.feature_dim + 2)) < kDrawsPerSequence / 2,
                  "feature_sequences", "max_steps * feature_dim ({} * {}) is too large", spec.max_steps,
                  spec.feature_dim);
  ATTNSCALE_CHECK(spec.noise >= 0, "feature_sequences", "noise must be >= 0, got {}", spec.noise);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "feature_sequences", "batch_size must be >= 1, got {}", spec.batch_size);
}

int64_t FeatureSequenceTask::target_steps() const {
  return spec_.target == FeatureTarget::label ? 1 : spec_.events + 1;
}

FeatureBatch FeatureSequenceTask::batch(int64_t index) const {
  const FeatureSequenceSpec& s = spec_;
  const int64_t batch = s.batch_size, dim = s.feature_dim, events = s.events, out_steps = target_steps();
  std::vector<int64_t> lengths(static_cast<size_t>(batch));
  std::vector<std::vector<int64_t>> frame_class(static_cast<size_t>(batch)), marked(static_cast<size_t>(batch));
  std::vector<uint64_t> noise_counter(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    uint64_t counter = static_cast<uint64_t>(index * batch + b) * kDrawsPerSequence;
    auto below = [&](int64_t n) {
      return std::min(n - 1, static_cast<int64_t>(Generator::uniform(s.seed, counter++) * static_cast<float>(n)));
    };
    const int64_t steps = s.min_steps + below(s.max_steps - s.min_steps + 1);
    lengths[static_cast<size_t>(b)] = steps;
    auto& classes = frame_class[static_cast<size_t>(b)];
    for (int64_t t = 0; t < steps; ++t) classes.push_back(below(s.classes));
    // The first `events` entries of a random permutation of the time steps carry markers 1..E.
    std::vector<int64_t> order(static_cast<size_t>(steps));
    for (int64_t t = 0; t < steps; ++t) order[static_cast<size_t>(t)] = t;
    for (int64_t k = 0; k < events; ++k)
      std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(k + below(steps - k))]);
    marked[static_cast<size_t>(b)].assign(order.begin(), order.begin() + events);
    noise_counter[static_cast<size_t>(b)] = counter;
  }
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<float> features(static_cast<size_t>(batch * longest * dim), 0.0f);
  std::vector<int64_t> inputs(static_cast<size_t>(batch * out_steps), kFeaturePadId),
      outputs(static_cast<size_t>(batch * out_steps)), event_steps;
  for (int64_t b = 0; b < batch; ++b) {
    const auto& classes = frame_class[static_cast<size_t>(b)];
    const auto& marks = marked[static_cast<size_t>(b)];
    float* seq = features.data() + b * longest * dim;
    uint64_t counter = noise_counter[static_cast<size_t>(b)];
    for (int64_t t = 0; t < lengths[static_cast<size_t>(b)]; ++t) {
      float* frame = seq + t * dim;
      for (int64_t c = 0; c < dim; ++c) frame[c] = static_cast<float>(s.noise * Generator::normal(s.seed, counter++));
      frame[classes[static_cast<size_t>(t)]] += 1.0f;
    }
    for (int64_t k = 0; k < events; ++k) {
      const int64_t step = marks[static_cast<size_t>(k)];
      seq[step * dim + s.classes + k] += 1.0f;
      event_steps.push_back(step);
      outputs[static_cast<size_t>(b * out_steps + k)] = kFirstClassId + classes[static_cast<size_t>(step)];
    }
    inputs[static_cast<size_t>(b * out_steps)] = kFeatureBosId;
    for (int64_t k = 1; k < out_steps; ++k)
      inputs[static_cast<size_t>(b * out_steps + k)] = outputs[static_cast<size_t>(b * out_steps + k - 1)];
    if (s.target == FeatureTarget::sequence) outputs[static_cast<size_t>(b * out_steps + events)] = kFeatureEosId;
  }
  return {Tensor::from(features, {batch, longest, dim}), Tensor::from(lengths, {batch}),
          Tensor::from(inputs, {batch, out_steps}), Tensor::from(outputs, {batch, out_steps}),
          Tensor::from(event_steps, {batch, events})};
}

}  // namespace attnscale::data

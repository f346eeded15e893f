// The generated feature sequences (data/feature_sequences.h): markers sit at the recorded time
// steps, targets are the marked frames' classes, padding is zero, batches are pure functions of
// (seed, index).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "framework/data/feature_sequences.h"
#include "tests/memory/memory_test_util.h"

namespace attnscale {
namespace {

using data::FeatureSequenceSpec;
using data::FeatureTarget;

// The class of a frame = its largest class channel (noise 0 makes it exact).
TEST(FeatureSequences, TargetsAreTheClassesOfTheMarkedFrames) {
  FeatureSequenceSpec spec;
  spec.noise = 0.0;
  spec.batch_size = 16;
  const data::FeatureSequenceTask task(spec);
  const auto batch = task.batch(2);
  const int64_t steps = batch.features.shape()[1], dim = spec.feature_dim, out = task.target_steps();
  ASSERT_EQ(out, spec.events + 1);
  const auto f = batch.features.to_vector<float>();
  const auto lengths = batch.lengths.to_vector<int64_t>();
  const auto inputs = batch.target_inputs.to_vector<int64_t>(), outputs = batch.target_outputs.to_vector<int64_t>();
  const auto events = batch.event_steps.to_vector<int64_t>();
  for (int64_t b = 0; b < spec.batch_size; ++b) {
    EXPECT_GE(lengths[b], spec.min_steps);
    EXPECT_LE(lengths[b], spec.max_steps);
    for (int64_t t = 0; t < steps; ++t) {
      const float* frame = f.data() + (b * steps + t) * dim;
      if (t >= lengths[b]) {
        EXPECT_TRUE(std::all_of(frame, frame + dim, [](float x) { return x == 0.0f; })) << "padding";
        continue;
      }
      for (int64_t k = 0; k < spec.events; ++k)
        EXPECT_EQ(frame[spec.classes + k], events[b * spec.events + k] == t ? 1.0f : 0.0f) << b << "," << t;
    }
    for (int64_t k = 0; k < spec.events; ++k) {
      const float* frame = f.data() + (b * steps + events[b * spec.events + k]) * dim;
      const int64_t cls = std::max_element(frame, frame + spec.classes) - frame;
      EXPECT_EQ(outputs[b * out + k], data::kFirstClassId + cls);
      EXPECT_EQ(inputs[b * out + k + 1], outputs[b * out + k]) << "inputs are the targets shifted right";
    }
    EXPECT_EQ(inputs[b * out], data::kFeatureBosId);
    EXPECT_EQ(outputs[b * out + spec.events], data::kFeatureEosId);
  }
  EXPECT_EQ(task.batch(2).features.to_vector<float>(), f);
  EXPECT_NE(task.batch(5).features.to_vector<float>(), f);
}

TEST(FeatureSequences, LabelIsOneStep) {
  FeatureSequenceSpec spec;
  spec.target = FeatureTarget::label;
  spec.events = 1;
  const data::FeatureSequenceTask task(spec);
  const auto batch = task.batch(0);
  EXPECT_EQ(batch.target_outputs.shape(), Shape({spec.batch_size, 1}));
  const auto outputs = batch.target_outputs.to_vector<int64_t>();
  for (const int64_t y : outputs) {
    EXPECT_GE(y, data::kFirstClassId);
    EXPECT_LT(y, task.vocab_size());
  }
}

TEST(FeatureSequences, BadSpecsNameTheOption) {
  FeatureSequenceSpec spec;
  spec.target = FeatureTarget::label;
  spec.events = 2;
  auto message = testing::error_message([&] { data::FeatureSequenceTask{spec}; });
  EXPECT_NE(message.find("[feature_sequences] a label is the class of one marked frame: events must be 1"),
            std::string::npos)
      << message;
  spec = {};
  spec.feature_dim = 10;
  message = testing::error_message([&] { data::FeatureSequenceTask{spec}; });
  EXPECT_NE(message.find("[feature_sequences] feature_dim (10) must hold classes + events = 11"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace attnscale

// Generated feature sequences for temporal attention: a sequence of T frames, each a feature vector
// of size F = [class one-hot (C) | marker one-hot (E) | noise-only channels], plus Gaussian noise on
// every channel. Every frame shows a random class; E frames (at random time steps) also carry a
// marker, 1 .. E. The answer depends on those time steps only:
//   label:    E = 1; the label is the class of the marked frame.
//   sequence: the classes of the frames marked 1, 2, .., E, then eos.
// Averaging over time cannot find the marked frames, so a model must attend to the right step at
// each output step. Batch i is a pure function of (seed, i); sequences are right-padded with zero
// frames to the longest in the batch.
#pragma once

#include <cstdint>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

enum class FeatureTarget { label, sequence };

// Output token ids: 0 pad, 1 bos, 2 eos, class c is kFirstClassId + c.
inline constexpr int64_t kFeaturePadId = 0, kFeatureBosId = 1, kFeatureEosId = 2, kFirstClassId = 3;

struct FeatureSequenceSpec {
  FeatureTarget target = FeatureTarget::sequence;
  int64_t classes = 8;
  int64_t events = 3;  // marked frames; 1 for label
  int64_t min_steps = 8;
  int64_t max_steps = 20;
  int64_t feature_dim = 16;  // >= classes + events
  double noise = 0.3;
  int64_t batch_size = 32;
  uint64_t seed = 1234;
};

struct FeatureBatch {
  Tensor features;        // float32 [B, T, F], zero after each sequence's length
  Tensor lengths;         // int64 [B]
  Tensor target_inputs;   // int64 [B, S]: bos, then the targets shifted right (S = 1 for label)
  Tensor target_outputs;  // int64 [B, S]: the classes' ids (then eos for sequence)
  Tensor event_steps;     // int64 [B, E]: the time step carrying marker k
};

class FeatureSequenceTask {
 public:
  explicit FeatureSequenceTask(const FeatureSequenceSpec& spec);
  FeatureBatch batch(int64_t index) const;
  const FeatureSequenceSpec& spec() const { return spec_; }
  int64_t vocab_size() const { return kFirstClassId + spec_.classes; }
  int64_t target_steps() const;  // S
  double chance_accuracy() const { return 1.0 / static_cast<double>(spec_.classes); }

 private:
  FeatureSequenceSpec spec_;
};

}  // namespace attnscale::data

// Synthetic captioning data: "images" made of feature regions and a caption naming some of their
// objects, for the captioning decoder with the visual sentinel. Region i of an image holds an object
// of class c_i and a salience rank r_i (a random permutation of the regions); its feature is
//     [one_hot(c_i) (classes); one_hot(r_i) (regions)] + N(0, feature_noise^2)
// and the caption names the `objects` most salient ones, most salient first:
//     the <c of rank 0> and the <c of rank 1> and ... the <c of rank L-1> eos
// Class words are visual (only the right region tells which); "the", "and" and eos follow from the
// grammar alone. Batch i is a pure function of (seed, i).
#pragma once

#include <cstdint>

#include "framework/core/tensor/tensor.h"

namespace attnscale::data {

// Token ids: 0 pad, 1 bos, 2 eos, 3 "the", 4 "and"; class c is first_class + c.
struct CaptionTokens {
  static constexpr int64_t pad = 0, bos = 1, eos = 2, the = 3, and_ = 4, first_class = 5;
};

struct CaptionSpec {
  int64_t regions = 6;
  int64_t classes = 8;
  int64_t objects = 3;
  double feature_noise = 0.5;
  int64_t batch_size = 16;
  uint64_t seed = 1234;
};

struct CaptionBatch {
  Tensor features;  // float32 [B, regions, classes + regions]
  Tensor inputs;    // int64 [B, 3 * objects]: bos, then the caption without its eos
  Tensor targets;   // int64 [B, 3 * objects]: the caption with eos
};

class CaptionTask {
 public:
  explicit CaptionTask(const CaptionSpec& spec);  // UsageError "[data] ..." on bad sizes
  CaptionBatch batch(int64_t index) const;
  const CaptionSpec& spec() const { return spec_; }
  int64_t vocab_size() const { return CaptionTokens::first_class + spec_.classes; }
  int64_t feature_size() const { return spec_.classes + spec_.regions; }
  int64_t caption_length() const { return 3 * spec_.objects; }
  static bool is_visual(int64_t token) { return token >= CaptionTokens::first_class; }
  // Accuracy of guessing a class word uniformly.
  double chance_accuracy() const { return 1.0 / static_cast<double>(spec_.classes); }

 private:
  CaptionSpec spec_;
};

}  // namespace attnscale::data

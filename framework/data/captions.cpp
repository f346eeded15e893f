#include "framework/data/captions.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "base/error.h"
#include "framework/data/counter_draws.h"

namespace attnscale::data {

CaptionTask::CaptionTask(const CaptionSpec& spec) : spec_(spec) {
  ATTNSCALE_CHECK(spec.regions >= 2 && spec.classes >= 2 && spec.batch_size >= 1, "data",
                  "captions need regions >= 2, classes >= 2 and batch_size >= 1 (got {}, {}, {})", spec.regions,
                  spec.classes, spec.batch_size);
  ATTNSCALE_CHECK(spec.objects >= 1 && spec.objects <= spec.regions, "data",
                  "a caption names 1 .. regions ({}) objects, got {}", spec.regions, spec.objects);
  ATTNSCALE_CHECK(spec.feature_noise >= 0, "data", "feature_noise must be >= 0, got {}", spec.feature_noise);
}

CaptionBatch CaptionTask::batch(int64_t index) const {
  using T = CaptionTokens;
  const int64_t b = spec_.batch_size, k = spec_.regions, f = feature_size(), len = caption_length();
  std::vector<float> features(static_cast<size_t>(b * k * f));
  std::vector<int64_t> inputs(static_cast<size_t>(b * len)), targets(static_cast<size_t>(b * len));
  for (int64_t row = 0; row < b; ++row) {
    CounterDraws draws(spec_.seed, static_cast<uint64_t>(index * b + row) + 1);
    std::vector<int64_t> cls(static_cast<size_t>(k)), rank(static_cast<size_t>(k)), region_of_rank(static_cast<size_t>(k));
    std::iota(rank.begin(), rank.end(), 0);
    for (int64_t i = k - 1; i > 0; --i) std::swap(rank[i], rank[draws.below(i + 1)]);
    for (int64_t i = 0; i < k; ++i) {
      cls[i] = draws.below(spec_.classes);
      region_of_rank[rank[i]] = i;
      float* feature = features.data() + (row * k + i) * f;
      for (int64_t j = 0; j < f; ++j)
        feature[j] = static_cast<float>(spec_.feature_noise * draws.normal());
      feature[cls[i]] += 1.0f;
      feature[spec_.classes + rank[i]] += 1.0f;
    }
    int64_t* tgt = targets.data() + row * len;
    for (int64_t j = 0; j < spec_.objects; ++j) {
      tgt[3 * j] = T::the;
      tgt[3 * j + 1] = T::first_class + cls[region_of_rank[j]];
      tgt[3 * j + 2] = j + 1 < spec_.objects ? T::and_ : T::eos;
    }
    int64_t* in = inputs.data() + row * len;
    in[0] = T::bos;
    std::copy_n(tgt, len - 1, in + 1);
  }
  return {Tensor::from(features, {b, k, f}), Tensor::from(inputs, {b, len}), Tensor::from(targets, {b, len})};
}

}  // namespace attnscale::data

#include "framework/data/transduction.h"

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "framework/data/synthetic.h"
#include "framework/core/tensor/random.h"

namespace attnscale::data {
namespace {

// Sequence s of batch i draws from its own counter range, so it does not depend on other sequences.
constexpr uint64_t kDrawsPerSequence = 1024;

}  // namespace

TransductionTask::TransductionTask(const TransductionSpec& spec) : spec_(spec) {
  ATTNSCALE_CHECK(spec.min_len >= 1 && spec.min_len <= spec.max_len, "data",
                  "transduction lengths need 1 <= min_len <= max_len, got {} and {}", spec.min_len, spec.max_len);
  ATTNSCALE_CHECK(spec.max_len < static_cast<int64_t>(kDrawsPerSequence), "data",
                  "transduction max_len must be below {}, got {}", kDrawsPerSequence, spec.max_len);
  ATTNSCALE_CHECK(spec.vocab_size >= kFirstSymbol + 2, "data",
                  "transduction needs vocab_size >= {} (3 special ids and 2 symbols), got {}", kFirstSymbol + 2,
                  spec.vocab_size);
  ATTNSCALE_CHECK(spec.batch_size >= 1, "data", "batch_size must be >= 1, got {}", spec.batch_size);
}

TransductionBatch TransductionTask::batch(int64_t index) const {
  const int64_t batch = spec_.batch_size, symbols = spec_.vocab_size - kFirstSymbol;
  std::vector<std::vector<int64_t>> sources(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    uint64_t counter = static_cast<uint64_t>(index * batch + b) * kDrawsPerSequence;
    auto below = [&](int64_t n) {
      return std::min(n - 1, static_cast<int64_t>(Generator::uniform(spec_.seed, counter++) * static_cast<float>(n)));
    };
    auto& src = sources[static_cast<size_t>(b)];
    src.resize(static_cast<size_t>(spec_.min_len + below(spec_.max_len - spec_.min_len + 1)));
    for (auto& token : src) token = kFirstSymbol + below(symbols);
  }
  int64_t longest = 0;
  for (const auto& s : sources) longest = std::max(longest, static_cast<int64_t>(s.size()));
  const int64_t steps = longest + 1;
  std::vector<int64_t> source(static_cast<size_t>(batch * longest), kPadId), lengths(static_cast<size_t>(batch));
  std::vector<int64_t> inputs(static_cast<size_t>(batch * steps), kPadId);
  std::vector<int64_t> outputs(static_cast<size_t>(batch * steps), kIgnoreIndex);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& src = sources[static_cast<size_t>(b)];
    const auto len = static_cast<int64_t>(src.size());
    std::vector<int64_t> target = src;
    if (spec_.task == Transduction::reverse) std::reverse(target.begin(), target.end());
    if (spec_.task == Transduction::sort) std::sort(target.begin(), target.end());
    lengths[static_cast<size_t>(b)] = len;
    std::copy(src.begin(), src.end(), source.begin() + b * longest);
    inputs[static_cast<size_t>(b * steps)] = kBosId;
    std::copy(target.begin(), target.end(), inputs.begin() + b * steps + 1);
    std::copy(target.begin(), target.end(), outputs.begin() + b * steps);
    outputs[static_cast<size_t>(b * steps + len)] = kEosId;
  }
  return {Tensor::from(source, {batch, longest}), Tensor::from(lengths, {batch}), Tensor::from(inputs, {batch, steps}),
          Tensor::from(outputs, {batch, steps})};
}

double TransductionTask::chance_accuracy() const { return 1.0 / static_cast<double>(spec_.vocab_size - kFirstSymbol); }

}  // namespace attnscale::data

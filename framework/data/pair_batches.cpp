#include "framework/data/pair_batches.h"

#include "base/error.h"
#include "framework/data/synthetic.h"

namespace attnscale::data {

static_assert(kSubwordPad == kPadId && kSubwordBos == kBosId && kSubwordEos == kEosId,
              "the subword models reserve the special ids the tasks use");

namespace {

std::vector<int64_t> fitting_pairs(const PairStore& store, Split split, int64_t max_len, int64_t& left_out) {
  std::vector<int64_t> kept;
  for (const int64_t p : store.split(split)) {
    if (max_len > 0 && (store.length(PairSide::source, p) > max_len || store.length(PairSide::target, p) > max_len))
      ++left_out;
    else
      kept.push_back(p);
  }
  if (kept.empty())
    throw DataError(fmt::format("[pairs] {}: no pair of the {} split ({} pairs) has at most {} tokens a side",
                                store.path().string(), split_name(split), store.split(split).size(), max_len));
  return kept;
}

}  // namespace

PairBatcher::PairBatcher(const PairStore& store, Split split, const PairBatchSpec& spec)
    : buckets_(fitting_pairs(store, split, spec.max_len, left_out_), spec.batch_size, spec.bucket_batches, spec.seed,
               [&store](int64_t p) {
                 return std::pair(store.length(PairSide::source, p), store.length(PairSide::target, p));
               },
               "pairs") {}

std::span<const int64_t> rank_share(std::span<const int64_t> pairs, int dp_rank, int dp_size) {
  const auto total = static_cast<int64_t>(pairs.size());
  const int64_t first = total * dp_rank / dp_size, last = total * (dp_rank + 1) / dp_size;
  ATTNSCALE_CHECK(last > first, "pairs", "data-parallel rank {} of {} gets no pair of a batch of {}", dp_rank, dp_size,
                  total);
  return pairs.subspan(first, last - first);
}

TransductionBatch make_pair_batch(const PairStore& store, std::span<const int64_t> pairs, int dp_rank, int dp_size) {
  const std::span<const int64_t> mine = rank_share(pairs, dp_rank, dp_size);
  const auto source = store.tokens(PairSide::source, mine);
  const auto target = store.tokens(PairSide::target, mine);
  const auto b = static_cast<int64_t>(mine.size());
  int64_t s = 1, t = 1;
  for (int64_t i = 0; i < b; ++i) {
    s = std::max(s, static_cast<int64_t>(source[i].size()));
    t = std::max(t, static_cast<int64_t>(target[i].size()) + 1);  // + eos
  }
  TransductionBatch out{Tensor::full({b, s}, kPadId, DType::i64), Tensor::zeros({b}, DType::i64),
                        Tensor::full({b, t}, kPadId, DType::i64), Tensor::full({b, t}, kIgnoreIndex, DType::i64)};
  int64_t* src = out.source.data<int64_t>();
  int64_t* lengths = out.source_lengths.data<int64_t>();
  int64_t* inputs = out.target_inputs.data<int64_t>();
  int64_t* outputs = out.target_outputs.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const auto len = static_cast<int64_t>(source[i].size());
    lengths[i] = len;
    for (int64_t j = 0; j < len; ++j) src[i * s + j] = source[i][j];
    const auto& y = target[i];
    inputs[i * t] = kBosId;
    for (size_t j = 0; j < y.size(); ++j) {
      outputs[i * t + static_cast<int64_t>(j)] = y[j];
      inputs[i * t + static_cast<int64_t>(j) + 1] = y[j];
    }
    outputs[i * t + static_cast<int64_t>(y.size())] = kEosId;
  }
  return out;
}

}  // namespace attnscale::data

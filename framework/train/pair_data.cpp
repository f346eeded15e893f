#include "framework/train/pair_data.h"

#include <algorithm>

#include "base/logging.h"

namespace attnscale::train {
namespace {

data::PairBatchSpec batch_spec(const Config& cfg, const ParallelContext& parallel, std::int64_t max_len) {
  data::PairBatchSpec spec;
  spec.batch_size = micro_batch_size(cfg, parallel.dp_size()) * parallel.dp_size();  // the global micro-batch
  spec.max_len = max_len;
  spec.seed = static_cast<uint64_t>(cfg.run.seed);
  return spec;
}

}  // namespace

PairData::PairData(const Config& cfg, const ParallelContext& parallel, std::int64_t max_len)
    : parallel_(parallel),
      store_(std::make_unique<const data::PairStore>(cfg.data.path)),
      eval_split_(cfg.data.eval_split == config::EvalSplit::test ? data::Split::test : data::Split::validation),
      train_(*store_, data::Split::train, batch_spec(cfg, parallel, max_len)),
      eval_(*store_, eval_split_, batch_spec(cfg, parallel, max_len)) {
  LOG_INFO("{}: {} training pairs, {} {} pairs of at most {} tokens a side ({} and {} longer left out); "
           "vocabulary {} source, {} target pieces",
           cfg.data.path, train_.pairs(), eval_.pairs(), data::split_name(eval_split_), max_len, train_.left_out(),
           eval_.left_out(), store_->model(data::PairSide::source).vocab_size(),
           store_->model(data::PairSide::target).vocab_size());
}

data::TransductionBatch PairData::train_batch(std::int64_t index) const {
  return data::make_pair_batch(*store_, train_.train_batch(index), parallel_.dp_rank(), parallel_.dp_size());
}

data::TransductionBatch PairData::eval_batch(std::int64_t index) const {
  return data::make_pair_batch(*store_, eval_.eval_batch(index), parallel_.dp_rank(), parallel_.dp_size());
}

std::vector<std::int64_t> PairData::eval_pairs(std::int64_t index) const {
  const std::vector<int64_t> batch = eval_.eval_batch(index);
  const std::span<const int64_t> mine = data::rank_share(batch, parallel_.dp_rank(), parallel_.dp_size());
  return {mine.begin(), mine.end()};
}

std::int64_t PairData::vocab_size() const {
  return std::max(store_->model(data::PairSide::source).vocab_size(), store_->model(data::PairSide::target).vocab_size());
}

double PairData::chance_accuracy() const {
  // eos and every piece but pad and bos.
  return 1.0 / static_cast<double>(store_->model(data::PairSide::target).vocab_size() - 2);
}

}  // namespace attnscale::train

#include "distributed/sequence_parallel/fetch_plan.h"

#include "base/error.h"
#include "distributed/context_parallel/ring_plan.h"

namespace attnscale::sp {

FetchPlan::FetchPlan(const kernels::Mask& mask, std::vector<kernels::Positions> queries,
                     std::vector<kernels::Positions> keys, int64_t block)
    : ranks_(static_cast<int>(queries.size())), queries_(std::move(queries)), keys_(std::move(keys)) {
  ATTNSCALE_CHECK(ranks_ >= 1 && keys_.size() == queries_.size(), "sequence_parallel",
                  "a fetch plan needs the positions of every rank: {} query sets, {} key sets", ranks_, keys_.size());
  rows_.resize(static_cast<size_t>(ranks_) * static_cast<size_t>(ranks_));
  for (int consumer = 0; consumer < ranks_; ++consumer)
    for (int owner = 0; owner < ranks_; ++owner)
      if (owner != consumer)
        rows_[index(consumer, owner)] =
            cp::needed_rows(mask, queries_[static_cast<size_t>(consumer)], keys_[static_cast<size_t>(owner)], block);
}

int64_t FetchPlan::rows_received(int rank) const {
  int64_t total = 0;
  for (int owner = 0; owner < ranks_; ++owner) total += rows(rank, owner).size();
  return total;
}

int64_t FetchPlan::rows_sent(int rank) const {
  int64_t total = 0;
  for (int consumer = 0; consumer < ranks_; ++consumer) total += rows(consumer, rank).size();
  return total;
}

}  // namespace attnscale::sp

// What every data-parallel task shares: which generated batch a rank takes from a global batch, and
// the global count its loss share divides by. `data.batch_size` is the global batch; each rank's
// generator makes micro-batches of batch_size / (dp * accum_steps) examples.
#pragma once

#include <algorithm>
#include <cstdint>

#include "framework/core/tensor/tensor.h"
#include "framework/train/parallel_context.h"

namespace attnscale::train {

// The generated batch that holds this data-parallel rank's share of global (micro-)batch `index`.
// Every synthetic generator (data/synthetic.h, transduction.h, translation.h, captions.h,
// babi_like.h, feature_sequences.h) draws example e of batch i from counter range i * size + e
// alone, so batch index * dp + dp_rank of the micro-batch size is exactly the rank's contiguous
// slice of what one rank with the whole batch would see, whatever the rank count.
inline int64_t local_batch_index(const ParallelContext& parallel, int64_t index) {
  return index * parallel.dp_size() + parallel.dp_rank();
}

// `local` summed over every rank of the run (the value itself on one process). Every rank must call
// it for the same batch: it is a collective.
inline int64_t sum_over_ranks(const ParallelContext& parallel, int64_t local) {
  return parallel.world ? parallel.world->all_reduce_value(local, ReduceOp::sum) : local;
}

// 1 / (the scored items of all ranks): the factor that turns this rank's summed losses into its
// share of the global mean, so that summing losses and gradients over ranks gives the one-rank mean.
inline double global_mean_factor(const ParallelContext& parallel, int64_t local_scored) {
  return 1.0 / static_cast<double>(std::max<int64_t>(sum_over_ranks(parallel, local_scored), 1));
}

// This rank's share of the mean cross-entropy over the targets of all ranks that are not
// `ignore_index`: its summed losses times global_mean_factor. logits [..., C], targets int64 [...].
// A collective, like sum_over_ranks.
Tensor cross_entropy_share(const ParallelContext& parallel, const Tensor& logits, const Tensor& targets,
                           int64_t ignore_index = -100);

// The seed of a random stream (dropout, attention samples) a task draws from over its micro-batch:
// dp rank 0 keeps `one_rank_seed`, the stream of the one-rank run; every other rank gets its own,
// instead of repeating rank 0's masks on different examples.
inline uint64_t rank_stream_seed(uint64_t one_rank_seed, const ParallelContext& parallel) {
  return one_rank_seed + (static_cast<uint64_t>(parallel.dp_rank()) << 32);
}

}  // namespace attnscale::train

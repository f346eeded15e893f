// Sequence-parallel local attention forward / backward (see local_halo_compute.h).
#include "distributed/context_parallel/local_halo_compute.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "base/error.h"

namespace attnscale::sp {
namespace {

constexpr int64_t block_queries = 64;  // queries per block (one matrix product); MPI is driven after each

size_t at(int64_t i) { return static_cast<size_t>(i); }

template <typename T>
cp::KvDims kv_dims(const LocalHaloInputs<T>& in) {
  cp::KvDims dims;
  dims.batch = in.queries.batch;
  dims.head_dim = in.queries.head_dim;
  dims.value_dim = in.queries.value_dim;
  return dims;  // no per-token parts: padding is the replicated source lengths
}

template <typename T>
bool inside_own_rows(const LocalHaloInputs<T>& in, int64_t query) {
  const WindowBounds& w = in.queries.windows[at(query)];
  return w.first >= in.source_begin && w.last < in.source_begin + in.source_rows;
}

// Runs fn(block, scratch) for blocks of the queries whose windows lie inside this rank's own
// rows (interior) or reach beyond them. Blocks of one sequence share source rows (and so dK/dV
// rows in the backward), so a thread takes whole sequences; the calling thread drives MPI after
// each of its blocks (DESIGN.md 9).
template <typename T, typename Fn>
void for_each_block(const LocalHaloInputs<T>& in, bool interior, cp::ProgressDriver& progress, Fn&& fn) {
  const auto keep = [&](int64_t query) { return inside_own_rows(in, query) == interior; };
  const std::vector<QueryBlock> blocks =
      query_blocks(in.queries.windows, in.queries.count, in.queries.half_width, block_queries, keep);
  std::vector<size_t> sequence_start;  // index of the first block of each sequence, then blocks.size()
  for (size_t i = 0; i < blocks.size(); ++i)
    if (i == 0 || blocks[i].first / in.queries.count != blocks[i - 1].first / in.queries.count)
      sequence_start.push_back(i);
  sequence_start.push_back(blocks.size());
  const auto sequences = static_cast<int64_t>(sequence_start.size()) - 1;
#pragma omp parallel if (sequences > 1)
  {
    const bool calling_thread = omp_get_thread_num() == 0;
    BlockScratch<T> scratch;
#pragma omp for schedule(dynamic, 1)
    for (int64_t sequence = 0; sequence < sequences; ++sequence)
      for (size_t i = sequence_start[at(sequence)]; i < sequence_start[at(sequence + 1)]; ++i) {
        fn(blocks[i], scratch);
        if (calling_thread) progress();
      }
  }
  progress.rethrow_if_failed();
}

// Global position of the first row this rank fetched from `owner` (contiguous layouts: the rows
// of one owner are one range of consecutive positions).
int64_t fetched_begin(const FetchPlan& plan, int rank, int owner) {
  const cp::RowSet& rows = plan.rows(rank, owner);
  ATTNSCALE_CHECK(rows.ranges().size() == 1, "local_halo",
                  "rows fetched from rank {} are not one range (the layouts must be contiguous)", owner);
  return plan.keys(owner).at(rows.ranges()[0].begin);
}

// This rank's rows and the fetched ones, sorted by position; gradient buffers when given.
template <typename T>
std::vector<SourceSegment<T>> all_segments(const LocalHaloInputs<T>& in, const FetchedBlocks<T>& fetched,
                                           std::span<T> own_dk, std::span<T> own_dv,
                                           std::vector<std::vector<T>>* fetched_dk,
                                           std::vector<std::vector<T>>* fetched_dv) {
  std::vector<SourceSegment<T>> segments{{in.source_begin, in.source_rows, in.keys, in.values, own_dk, own_dv}};
  if (in.plan == nullptr) return segments;
  const int rank = in.comm->rank();
  for (int owner = 0; owner < in.comm->size(); ++owner) {
    const int64_t rows = in.plan->rows(rank, owner).size();
    if (rows == 0) continue;
    const cp::KvView<T> block = fetched[at(owner)].view();
    SourceSegment<T> segment{fetched_begin(*in.plan, rank, owner), rows, block.k, block.v, {}, {}};
    if (fetched_dk != nullptr) {
      segment.dk = (*fetched_dk)[at(owner)];
      segment.dv = (*fetched_dv)[at(owner)];
    }
    segments.push_back(segment);
  }
  std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  return segments;
}

}  // namespace

template <typename T>
void local_halo_forward(const LocalHaloInputs<T>& in, FetchedBlocks<T>& fetched, std::span<T> out) {
  const LocalQueries<T>& queries = in.queries;
  InFlight<T> in_flight;
  if (in.plan != nullptr)
    fetch_keys(*in.comm, *in.plan, Transport::point_to_point, cp::KvView<T>{in.keys, in.values, {}, {}}, kv_dims(in),
               fetched, in_flight);
  cp::ProgressDriver progress(in.plan != nullptr ? in.comm : nullptr);
  const auto compute = [&](std::span<const SourceSegment<T>> segments, bool interior) {
    for_each_block(in, interior, progress, [&](const QueryBlock& block, BlockScratch<T>& scratch) {
      local_block_forward<T>(queries, segments, block, out, scratch);
    });
  };
  const SourceSegment<T> own{in.source_begin, in.source_rows, in.keys, in.values, {}, {}};
  compute({&own, 1}, true);  // while the halo travels
  in_flight.wait_all();
  compute(all_segments<T>(in, fetched, {}, {}, nullptr, nullptr), false);
}

template <typename T>
void local_halo_backward(const LocalHaloInputs<T>& in, const FetchedBlocks<T>& fetched, std::span<const T> dout,
                         std::span<T> dq, std::span<T> dk, std::span<T> dv, std::span<T> dcentres) {
  const LocalQueries<T>& queries = in.queries;
  const int64_t d = queries.head_dim, d_v = queries.value_dim;
  std::fill(dk.begin(), dk.end(), T{0});
  std::fill(dv.begin(), dv.end(), T{0});
  GradReturn<T> grads;
  if (in.plan != nullptr) {
    const int ranks = in.comm->size();
    grads.dk.assign(at(ranks), {});
    grads.dv.assign(at(ranks), {});
    for (int owner = 0; owner < ranks; ++owner) {
      const int64_t rows = in.plan->rows(in.comm->rank(), owner).size();
      grads.dk[at(owner)].assign(at(queries.batch * rows * d), T{0});
      grads.dv[at(owner)].assign(at(queries.batch * rows * d_v), T{0});
    }
  }
  cp::ProgressDriver progress(in.plan != nullptr ? in.comm : nullptr);
  const auto compute = [&](std::span<const SourceSegment<T>> segments, bool interior) {
    for_each_block(in, interior, progress, [&](const QueryBlock& block, BlockScratch<T>& scratch) {
      local_block_backward<T>(queries, segments, block, dout, dq, dcentres, scratch);
    });
  };
  // Edge queries first: once they are done the fetched rows' gradients are complete.
  compute(all_segments<T>(in, fetched, dk, dv, &grads.dk, &grads.dv), false);
  if (in.plan != nullptr) start_return_grads(*in.comm, *in.plan, Transport::point_to_point, kv_dims(in), grads);
  const SourceSegment<T> own{in.source_begin, in.source_rows, in.keys, in.values, dk, dv};
  compute({&own, 1}, true);  // while the halo gradients travel home
  if (in.plan != nullptr) finish_return_grads(*in.comm, *in.plan, kv_dims(in), in.source_rows, grads, dk, dv);
}

#define ATTNSCALE_INSTANTIATE(T)                                                                               \
  template void local_halo_forward<T>(const LocalHaloInputs<T>&, FetchedBlocks<T>&, std::span<T>);             \
  template void local_halo_backward<T>(const LocalHaloInputs<T>&, const FetchedBlocks<T>&, std::span<const T>, \
                                       std::span<T>, std::span<T>, std::span<T>, std::span<T>);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace attnscale::sp

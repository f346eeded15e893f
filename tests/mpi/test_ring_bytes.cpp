// The ring sends what the mask needs and nothing more, read from the communicator's byte counters
// (distributed/comm/comm_stats.h): a causal window much smaller than a shard moves only the last
// `window` keys to the next rank; with a plain causal mask the last rank's keys never travel.
#include <gtest/gtest.h>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

struct Dims {
  int64_t batch = 2, q_heads = 4, kv_heads = 2, d = 8, dv = 8, shard = 64;
  // Bytes of `rows` key rows of K and V (f64), plus their segment ids when they travel.
  uint64_t kv_bytes(int64_t rows, bool segments) const {
    return static_cast<uint64_t>(rows * batch * (kv_heads * (d + dv) * 8 + (segments ? 4 : 0)));
  }
  uint64_t grad_bytes(int64_t rows) const { return static_cast<uint64_t>(rows * batch * kv_heads * (d + dv) * 8); }
};

uint64_t point_to_point_sent(const Communicator& comm) {
  return comm.stats()[CommOp::sendrecv].bytes_sent + comm.stats()[CommOp::send].bytes_sent;
}

uint64_t total_sent(const Communicator& comm) { return comm.stats().total().bytes_sent; }

// Forward and backward of ring attention over `comm`; returns (forward bytes, backward bytes) sent.
// segments: per local token (both q and k), or empty.
std::pair<uint64_t, uint64_t> run_ring(Communicator& comm, const Dims& dims, const kernels::Mask& mask,
                                       const std::vector<int32_t>& segments) {
  const int ranks = comm.size();
  const kernels::Layout layout(kernels::LayoutKind::contiguous, dims.shard * ranks, ranks);
  const ContextParallelGroup group{&comm, nullptr, nullptr, ParallelAlgo::ring, layout};
  const Tensor q = test::random_tensor({dims.batch, dims.q_heads, dims.shard, dims.d}, 1).set_requires_grad();
  const Tensor k = test::random_tensor({dims.batch, dims.kv_heads, dims.shard, dims.d}, 2).set_requires_grad();
  const Tensor v = test::random_tensor({dims.batch, dims.kv_heads, dims.shard, dims.dv}, 3).set_requires_grad();
  AttentionSpec spec;
  spec.mask = mask;
  spec.q_segment = spec.k_segment = segments;
  comm.reset_stats();
  const Tensor out = context_parallel_attention(q, k, v, spec, group);
  const uint64_t forward = point_to_point_sent(comm);
  // Besides the ring steps, only the segment-id summaries of the plan: [lo, hi] per batch row for
  // the queries and for every 16 keys.
  const uint64_t summaries = segments.empty() ? 0u : static_cast<uint64_t>(2 * dims.batch * (1 + dims.shard / 16) * 4);
  EXPECT_EQ(total_sent(comm) - forward, ranks > 1 ? summaries : 0u);
  const uint64_t before_backward = total_sent(comm);
  out.backward(Tensor::ones(out.shape(), out.dtype()));
  return {forward, total_sent(comm) - before_backward};
}

TEST(RingAttentionBytes, CausalWindowSendsOnlyTheWindow) {
  auto comm = test::fresh_comm("ring_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const Dims dims;
  const int64_t window = 5;  // each query sees itself and the 5 keys before it
  kernels::Mask mask;
  mask.causal = true;
  mask.window = kernels::Window{window, 0};
  for (const bool segments : {false, true}) {
    SCOPED_TRACE(segments ? "with segment ids" : "positional mask only");
    const std::vector<int32_t> one_document(segments ? static_cast<size_t>(dims.batch * dims.shard) : 0, 0);
    const auto [forward, backward] = run_ring(*comm, dims, mask, one_document);
    const bool has_next = rank + 1 < ranks, has_prev = rank > 0;
    // Forward: the last `window` keys (and their segment ids) go to the next rank, nothing else.
    const uint64_t window_kv = dims.kv_bytes(window, segments);
    EXPECT_EQ(forward, has_next ? window_kv : 0u);
    EXPECT_LT(window_kv * 10, dims.kv_bytes(dims.shard, segments)) << "the window is much smaller than a shard";
    // Backward: the same keys again, their dK/dV accumulator to the next rank, and the
    // accumulator of the previous rank's window back home to it.
    const uint64_t grads = dims.grad_bytes(window);
    EXPECT_EQ(backward, (has_next ? window_kv + grads : 0u) + (has_prev ? grads : 0u));
  }
}

TEST(RingAttentionBytes, CausalNeverSendsTheLastRanksKeys) {
  auto comm = test::fresh_comm("ring_causal_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const Dims dims;
  kernels::Mask mask;
  mask.causal = true;
  const auto [forward, backward] = run_ring(*comm, dims, mask, {});
  // Contiguous shards: rank r holds the keys of ranks 0..r in turn and forwards them to r + 1,
  // which needs them all; the last rank forwards nothing (rank 0 needs none of its keys). A
  // mask-blind ring would send P - 1 shards from every rank.
  const uint64_t expected = rank + 1 < ranks ? static_cast<uint64_t>(rank + 1) * dims.kv_bytes(dims.shard, false) : 0u;
  EXPECT_EQ(forward, expected);
  const uint64_t all_sent = comm->all_reduce_value(forward, ReduceOp::sum);
  const auto shard = dims.kv_bytes(dims.shard, false), p = static_cast<uint64_t>(ranks);
  EXPECT_EQ(all_sent, shard * p * (p - 1) / 2) << "half of what a mask-blind ring sends";
}

TEST(RingAttentionBytes, PackedDocumentsSendOnlyTheDocumentThatCrossesIntoAShard) {
  auto comm = test::fresh_comm("ring_document_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const Dims dims;
  const int64_t doc = 24;  // documents of 24 tokens; shards of 64 start inside one
  std::vector<int32_t> segments;
  for (int64_t b = 0; b < dims.batch; ++b)
    for (int64_t i = 0; i < dims.shard; ++i) segments.push_back(static_cast<int32_t>((rank * dims.shard + i) / doc));
  kernels::Mask mask;
  mask.causal = true;  // alone it would send every earlier shard
  const auto [forward, backward] = run_ring(*comm, dims, mask, segments);
  // The next rank needs the keys of the document its first token belongs to. Segment ids are
  // summarised per 16 keys, so the rows sent start at that document's 16-key block.
  int64_t rows = 0;
  if (rank + 1 < ranks) {
    const int64_t next_start = (rank + 1) * dims.shard, doc_start = next_start / doc * doc;
    rows = doc_start < next_start ? dims.shard - (doc_start - rank * dims.shard) / 16 * 16 : 0;
  }
  EXPECT_EQ(forward, dims.kv_bytes(rows, true));
  EXPECT_LT(rows * 2, dims.shard);
  const int64_t all_rows = comm->all_reduce_value(rows, ReduceOp::sum);
  EXPECT_GT(all_rows, 0) << "some document crosses a shard boundary";
}

}  // namespace
}  // namespace attnscale

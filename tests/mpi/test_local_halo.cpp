// Luong local attention over sharded target and source sequences (local_halo.h) under 2, 3 and 4
// ranks: contexts and every gradient (queries, source states through both the keys and the
// values, the general score's key projection, local-p's W_p and v_p) equal
// attention::LocalAttention run step by step on the gathered sequences, fp64: local-m and local-p,
// dot and general scores, uneven shards, target longer than the source (local-m clamps), padded
// sources, windows wider than a shard. Byte counters: the rows received are exactly those the
// windows reach.
#include <gtest/gtest.h>

#include <cmath>

#include "distributed/sequence_parallel/local_halo.h"
#include "framework/attention/local.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

using attention::LocalMode;
using attention::ScoreKind;
using kernels::Layout;
using kernels::LayoutKind;

// Rows `positions` of the token axis (1) of a [B, N, W] tensor.
Tensor rows_of(const Tensor& global, const kernels::Positions& positions) {
  const Shape& s = global.shape();
  const Tensor four = reshape(global.detach(), {s[0], 1, s[1], s[2]});
  return reshape(test::shard_rows(four, positions), {s[0], positions.size(), s[2]});
}

Tensor step_query(const Tensor& queries, int64_t t) {
  return reshape(narrow(queries, 1, t, 1), {queries.shape()[0], queries.shape()[2]});
}

struct LocalCase {
  const char* name;
  LocalMode mode;
  ScoreKind kind;
  int64_t window;               // D
  int64_t q_per_rank, q_extra;  // target length = q_per_rank * ranks + q_extra
  int64_t s_per_rank, s_extra;  // source length likewise
  bool padding = true;          // second sequence's source 3 shorter
  DType dtype = DType::f64;
};

void check(const LocalCase& lc) {
  auto comm = test::fresh_comm("local_halo");
  const int rank = comm->rank(), ranks = comm->size();
  const int64_t batch = 2, key_dim = 6, query_dim = lc.kind == ScoreKind::dot ? key_dim : 5, attn_dim = 4;
  const int64_t q_len = lc.q_per_rank * ranks + lc.q_extra, s_len = lc.s_per_rank * ranks + lc.s_extra;
  SCOPED_TRACE(fmt::format("{}: {} queries, {} source rows over {} ranks", lc.name, q_len, s_len, ranks));
  Generator gen(3);  // the same parameters on every rank
  attention::LocalOptions options;
  options.mode = lc.mode;
  options.window = lc.window;
  attention::LocalAttention local(lc.kind, query_dim, key_dim, attn_dim, options, gen, lc.dtype);
  const Tensor queries = test::random_tensor({batch, q_len, query_dim}, 41, lc.dtype).set_requires_grad();
  const Tensor states = test::random_tensor({batch, s_len, key_dim}, 42, lc.dtype).set_requires_grad();
  const Tensor dout = test::random_tensor({batch, q_len, key_dim}, 43, lc.dtype);
  const std::vector<int64_t> lengths{s_len, lc.padding ? s_len - 3 : s_len};

  // Reference: one rank, the module step by step over the whole sequences.
  const attention::SourceMemory memory = local.prepare(states, Tensor::from(lengths, {batch}));
  std::vector<Tensor> contexts;
  for (int64_t t = 0; t < q_len; ++t) contexts.push_back(local.forward(step_query(queries, t), memory, t, gen).context);
  const Tensor ref = stack(contexts, 1);  // [B, T, Dk]
  ref.backward(dout);
  std::vector<Tensor> ref_param_grads;
  for (const Tensor& p : local.parameters()) {
    ref_param_grads.push_back(p.grad().defined() ? p.grad().clone() : Tensor::zeros(p.shape(), p.dtype()));
    p.zero_grad();
  }

  const Layout q_layout(LayoutKind::contiguous, q_len, ranks), s_layout(LayoutKind::contiguous, s_len, ranks);
  const kernels::Positions q_mine = q_layout.positions(rank), s_mine = s_layout.positions(rank);
  const Tensor lq = rows_of(queries, q_mine).set_requires_grad();
  const Tensor ls = rows_of(states, s_mine).set_requires_grad();
  const Tensor keys = local.score().prepare_keys(ls);  // the general score's projection, on the shard
  LocalHaloOptions halo_options;
  halo_options.window = lc.window;
  halo_options.source_lengths = lengths;
  const LocalHaloGroup group{comm.get(), q_layout, s_layout};
  Tensor out;
  if (lc.mode == LocalMode::monotonic) {
    out = local_m_halo_attention(lq, keys, ls, halo_options, group);
  } else {
    attention::SourceMemory lengths_only;
    lengths_only.lengths = memory.lengths;
    std::vector<Tensor> centres;  // p_t [B, 1] per local query, from the module's W_p, v_p
    for (int64_t i = 0; i < q_mine.size(); ++i)
      centres.push_back(local.centres(step_query(lq, i), lengths_only, q_mine.at(i)));
    out = local_p_halo_attention(lq, keys, ls, concat(centres, 1), halo_options, group);
  }
  out.backward(rows_of(dout, q_mine));

  const double tol = lc.dtype == DType::f64 ? 1e-12 : 2e-5;
  EXPECT_LE(test::max_abs_diff(out, rows_of(ref, q_mine)), tol) << "contexts";
  EXPECT_LE(test::max_abs_diff(lq.grad(), rows_of(queries.grad(), q_mine)), tol) << "d queries";
  EXPECT_LE(test::max_abs_diff(ls.grad(), rows_of(states.grad(), s_mine)), tol) << "d states (keys and values)";
  const std::vector<NamedTensor> params = local.named_parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& grad = params[i].tensor.grad();
    std::vector<double> summed =
        grad.defined() ? grad.to(DType::f64).to_vector<double>() : std::vector<double>(params[i].tensor.numel(), 0.0);
    comm->all_reduce(summed, ReduceOp::sum);  // each rank's share of the parameter gradient
    EXPECT_LE(test::max_abs_diff(Tensor::from(summed, params[i].tensor.shape()), ref_param_grads[i]), tol)
        << params[i].name;
  }
}

TEST(LocalHaloAttention, LocalMDotUnevenShardsTargetLongerThanSource) {
  check({"local-m dot D=2", LocalMode::monotonic, ScoreKind::dot, 2, 6, 1, 5, 2});
}
TEST(LocalHaloAttention, LocalMGeneralWindowWiderThanAShard) {
  check({"local-m general D=9 > shard 3", LocalMode::monotonic, ScoreKind::general, 9, 4, 3, 3, 1});
}
TEST(LocalHaloAttention, LocalPGeneralUnevenShards) {
  check({"local-p general D=3", LocalMode::predictive, ScoreKind::general, 3, 5, 2, 7, 3});
}
TEST(LocalHaloAttention, LocalPDotWindowWiderThanAShard) {
  check({"local-p dot D=8 > shard 3", LocalMode::predictive, ScoreKind::dot, 8, 3, 2, 3, 2});
}
// Shards left empty: the whole source on rank 0 (S = 1), or every query on rank 0.
TEST(LocalHaloAttention, EmptyShards) {
  check({"local-p source of 1 row", LocalMode::predictive, ScoreKind::general, 2, 3, 1, 0, 1, false});
  check({"local-m queries on rank 0 only", LocalMode::monotonic, ScoreKind::dot, 3, 0, 1, 4, 1, false});
}
TEST(LocalHaloAttention, Float32LocalP) {
  check({"f32 local-p general D=4", LocalMode::predictive, ScoreKind::general, 4, 6, 1, 8, 1, false, DType::f32});
}

// Bytes this rank sent and received in point-to-point transfers (the halo and its gradients).
std::pair<uint64_t, uint64_t> point_to_point_bytes(const Communicator& comm) {
  uint64_t sent = 0, received = 0;
  for (const CommOp op : {CommOp::send, CommOp::recv, CommOp::sendrecv}) {
    sent += comm.stats()[op].bytes_sent;
    received += comm.stats()[op].bytes_received;
  }
  return {sent, received};
}

struct BytesCase {
  int64_t batch = 1, key_dim = 16, value_dim = 8;
  uint64_t row_bytes() const { return static_cast<uint64_t>(batch * (key_dim + value_dim) * 4); }
};

TEST(LocalHaloBytes, LocalMReceivesDRowsPerNeighbourWhateverTheLength) {
  auto comm = test::fresh_comm("local_m_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const BytesCase c;
  const int64_t window = 3;
  LocalHaloOptions options;
  options.window = window;
  for (const int64_t shard : {32, 96}) {
    SCOPED_TRACE(fmt::format("shards of {} tokens", shard));
    const Layout layout(LayoutKind::contiguous, shard * ranks, ranks);
    const Tensor q = test::random_tensor({c.batch, shard, c.key_dim}, 1, DType::f32).set_requires_grad();
    const Tensor k = test::random_tensor({c.batch, shard, c.key_dim}, 2, DType::f32).set_requires_grad();
    const Tensor v = test::random_tensor({c.batch, shard, c.value_dim}, 3, DType::f32).set_requires_grad();
    comm->reset_stats();
    const Tensor out = local_m_halo_attention(q, k, v, options, {comm.get(), layout, layout});
    const auto [sent, received] = point_to_point_bytes(*comm);
    // D rows over each boundary with a neighbour, each way.
    const uint64_t neighbours = (rank > 0 ? 1u : 0u) + (rank + 1 < ranks ? 1u : 0u);
    EXPECT_EQ(received, neighbours * window * c.row_bytes()) << "K and V of the D rows beyond each edge";
    EXPECT_EQ(sent, neighbours * window * c.row_bytes());
    const auto& stats = comm->stats();
    EXPECT_EQ(stats.total().calls,
              stats[CommOp::send].calls + stats[CommOp::recv].calls + stats[CommOp::sendrecv].calls)
        << "point-to-point only: no range exchange";
    comm->reset_stats();
    out.backward(Tensor::ones(out.shape(), out.dtype()));
    const auto [grad_sent, grad_received] = point_to_point_bytes(*comm);
    EXPECT_EQ(grad_sent, received) << "dK and dV of the fetched rows go home";
    EXPECT_EQ(grad_received, sent);
  }
}

// Local-p: the rows received are those of the hull of this rank's windows outside its own shard,
// counted here from the centres directly; one all-gather of two int64 per rank shares the hulls.
TEST(LocalHaloBytes, LocalPReceivesTheRowsItsWindowsReach) {
  auto comm = test::fresh_comm("local_p_bytes");
  const int rank = comm->rank(), ranks = comm->size();
  const BytesCase c;
  const int64_t window = 4, s_len = 20 * ranks + 1, q_len = 7 * ranks;
  const Layout q_layout(LayoutKind::contiguous, q_len, ranks), s_layout(LayoutKind::contiguous, s_len, ranks);
  const int64_t n_q = q_layout.local_length(rank), n_s = s_layout.local_length(rank);
  // Centres spread over the source, different on every rank.
  Generator gen(100 + static_cast<uint64_t>(rank));
  const Tensor centres = Tensor::rand({c.batch, n_q}, gen, DType::f32, 0.0, static_cast<double>(s_len - 1));
  int64_t lo = s_len, hi = -1;
  for (const float p : centres.to_vector<float>())
    for (int64_t s = 0; s < s_len; ++s)
      if (std::abs(static_cast<float>(s) - p) <= static_cast<float>(window)) {
        lo = std::min(lo, s);
        hi = std::max(hi, s);
      }
  const int64_t own_begin = s_layout.positions(rank).at(0), own_end = own_begin + n_s;
  const int64_t outside =
      (std::max<int64_t>(0, std::min(hi + 1, own_begin) - lo)) + (std::max<int64_t>(0, hi + 1 - std::max(lo, own_end)));
  const Tensor q = test::random_tensor({c.batch, n_q, c.key_dim}, 1, DType::f32);
  const Tensor k = test::random_tensor({c.batch, n_s, c.key_dim}, 2, DType::f32);
  const Tensor v = test::random_tensor({c.batch, n_s, c.value_dim}, 3, DType::f32);
  LocalHaloOptions options;
  options.window = window;
  comm->reset_stats();
  local_p_halo_attention(q, k, v, centres, options, {comm.get(), q_layout, s_layout});
  EXPECT_EQ(point_to_point_bytes(*comm).second, static_cast<uint64_t>(outside) * c.row_bytes());
  EXPECT_EQ(comm->stats()[CommOp::all_gather].calls, 1u);
  EXPECT_EQ(comm->stats()[CommOp::all_gather].bytes_sent, 2u * sizeof(int64_t));
}

TEST(LocalHaloAttention, RejectsLayoutsOtherThanContiguous) {
  auto comm = test::fresh_comm("local_halo_layout");
  const Layout striped(LayoutKind::striped, 8 * comm->size(), comm->size());
  const Tensor x = Tensor::zeros({1, 8, 4}, DType::f64);
  try {
    local_m_halo_attention(x, x, x, {}, {comm.get(), striped, striped});
    ADD_FAILURE() << "a striped layout was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[local_halo]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("contiguous"), std::string::npos) << e.what();
  }
}

// A centre whose window holds no source position, on the last rank only: every rank stops with
// an error (none is left waiting in a transfer); the last rank names the query.
TEST(LocalHaloAttention, AnEmptyWindowStopsEveryRank) {
  auto comm = test::fresh_comm("local_halo_empty");
  const int rank = comm->rank(), ranks = comm->size();
  const Layout layout(LayoutKind::contiguous, 4 * ranks, ranks);
  const Tensor x = Tensor::zeros({1, 4, 3}, DType::f64);
  const Tensor centres = Tensor::from(std::vector<double>{1, 2, rank + 1 == ranks ? -50.0 : 0.5, 3}, {1, 4});
  try {
    local_p_halo_attention(x, x, x, centres, {}, {comm.get(), layout, layout});
    ADD_FAILURE() << "an empty window was accepted";
  } catch (const UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(rank + 1 == ranks ? "is empty" : "window is empty"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace attnscale

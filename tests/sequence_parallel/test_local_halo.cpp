// The local-attention halo op on one process: finite-difference gradients of its own math (the
// window softmax, the Gaussian and its centre gradient), equality with attention::LocalAttention
// on one rank, the window rule against a brute-force scan, and FetchPlan built from key ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "distributed/sequence_parallel/fetch_plan.h"
#include "distributed/sequence_parallel/local_halo.h"
#include "distributed/sequence_parallel/local_window.h"
#include "framework/attention/local.h"
#include "framework/autograd/gradcheck.h"
#include "framework/ops/indexing.h"
#include "framework/ops/ops.h"

namespace attnscale {
namespace {

using kernels::Layout;
using kernels::LayoutKind;

Tensor uniform(const Shape& shape, uint64_t seed, double low, double high) {
  Generator gen(seed);
  return Tensor::rand(shape, gen, DType::f64, low, high);
}

LocalHaloGroup one_rank(int64_t queries, int64_t sources) {
  return {nullptr, Layout(LayoutKind::contiguous, queries, 1), Layout(LayoutKind::contiguous, sources, 1)};
}

TEST(LocalHaloOneRank, LocalPGradcheckIncludingTheCentres) {
  const int64_t batch = 2, queries = 5, sources = 9;
  LocalHaloOptions options;
  options.window = 2;
  options.sigma = 1.3;
  options.source_lengths = {9, 6};
  // Centres inside each source, away from the window's hard edges (|s - p| = D).
  std::vector<double> centres = uniform({batch, queries}, 4, 0.1, 0.4).to_vector<double>();
  for (size_t i = 0; i < centres.size(); ++i) centres[i] += static_cast<double>(i % 5) + (i < 5 ? 3.0 : 1.0);
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return local_p_halo_attention(x[0], x[1], x[2], x[3], options, one_rank(queries, sources));
      },
      {uniform({batch, queries, 4}, 1, -1, 1).set_requires_grad(),
       uniform({batch, sources, 4}, 2, -1, 1).set_requires_grad(),
       uniform({batch, sources, 3}, 3, -1, 1).set_requires_grad(),
       Tensor::from(centres, {batch, queries}).set_requires_grad()});
  EXPECT_TRUE(result.ok) << result.report;
}

TEST(LocalHaloOneRank, LocalMGradcheckWithClampedCentres) {
  const int64_t batch = 2, queries = 7, sources = 5;  // queries 5, 6 clamp to the last position
  LocalHaloOptions options;
  options.window = 1;
  options.source_lengths = {5, 3};
  const auto result = autograd::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return local_m_halo_attention(x[0], x[1], x[2], options, one_rank(queries, sources));
      },
      {uniform({batch, queries, 3}, 5, -1, 1).set_requires_grad(),
       uniform({batch, sources, 3}, 6, -1, 1).set_requires_grad(),
       uniform({batch, sources, 2}, 7, -1, 1).set_requires_grad()});
  EXPECT_TRUE(result.ok) << result.report;
}

// One rank, local-p with the general score: the op on the module's prepared keys and centres
// equals the module's own reads, step by step.
TEST(LocalHaloOneRank, EqualsLocalAttention) {
  const int64_t batch = 2, queries = 6, sources = 8, query_dim = 3, key_dim = 4;
  Generator gen(11);
  attention::LocalOptions module_options;
  module_options.window = 3;
  attention::LocalAttention local(attention::ScoreKind::general, query_dim, key_dim, 5, module_options, gen,
                                  DType::f64);
  const Tensor q = uniform({batch, queries, query_dim}, 12, -1, 1);
  const Tensor states = uniform({batch, sources, key_dim}, 13, -1, 1);
  const std::vector<int64_t> lengths{8, 5};
  const attention::SourceMemory memory = local.prepare(states, Tensor::from(lengths, {batch}));
  std::vector<Tensor> reads, centres;
  for (int64_t t = 0; t < queries; ++t) {
    const Tensor query = reshape(narrow(q, 1, t, 1), {batch, query_dim});
    reads.push_back(local.forward(query, memory, t, gen).context);
    centres.push_back(local.centres(query, memory, t));
  }
  LocalHaloOptions options;
  options.window = 3;
  options.source_lengths = lengths;
  const Tensor out =
      local_p_halo_attention(q, memory.keys, states, concat(centres, 1), options, one_rank(queries, sources));
  const std::vector<double> got = out.to_vector<double>(), want = stack(reads, 1).to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << i;
}

// window_bounds against scanning every position with local.cpp's test |T(s) - p| > D.
template <typename T>
void expect_window_rule(uint64_t seed) {
  const int64_t length = 12;
  std::vector<double> centres = uniform({200}, seed, -6.0, 18.0).to_vector<double>();
  for (const double exact : {-3.0, -2.0, 0.0, 2.5, 3.0, 11.0, 13.0, 14.0, 1e30, -1e30}) centres.push_back(exact);
  for (const int64_t half_width : {1, 2, 3}) {
    for (const double centre : centres) {
      const T p = static_cast<T>(centre);
      sp::WindowBounds scan;
      for (int64_t s = 0; s < length; ++s) {
        if (std::abs(static_cast<T>(s) - p) > static_cast<T>(half_width)) continue;
        if (scan.empty()) scan.first = s;
        scan.last = s;
      }
      const sp::WindowBounds got = sp::window_bounds<T>(p, half_width, length);
      EXPECT_EQ(got.empty(), scan.empty()) << "p = " << centre << ", D = " << half_width;
      if (!scan.empty()) {
        EXPECT_EQ(got.first, scan.first) << "p = " << centre << ", D = " << half_width;
        EXPECT_EQ(got.last, scan.last) << "p = " << centre << ", D = " << half_width;
      }
    }
  }
}

TEST(LocalWindow, BoundsFollowTheRuleOfLocalAttention) {
  expect_window_rule<double>(21);
  expect_window_rule<float>(22);
  EXPECT_TRUE(sp::window_bounds<double>(std::nan(""), 2, 10).empty());
}

TEST(FetchPlan, FromKeyRangesTakesEachOwnersRowsInsideTheRange) {
  // Contiguous shards [0, 5), [5, 10), [10, 14) of 14 keys; rank 1 needs [3, 12), the others nothing.
  const Layout layout(LayoutKind::contiguous, 14, 3);
  std::vector<kernels::Positions> positions;
  for (int r = 0; r < 3; ++r) positions.push_back(layout.positions(r));
  const std::vector<cp::RowRange> needed{{}, {3, 12}, {}};
  const sp::FetchPlan plan(positions, positions, needed);
  EXPECT_EQ(plan.rows(1, 0), cp::RowSet({cp::RowRange{3, 5}}));
  EXPECT_EQ(plan.rows(1, 2), cp::RowSet({cp::RowRange{0, 2}}));
  EXPECT_TRUE(plan.rows(1, 1).empty()) << "own rows are local";
  EXPECT_EQ(plan.rows_received(1), 4);
  EXPECT_EQ(plan.rows_received(0) + plan.rows_received(2), 0);
  // Striped keys (token t on rank t mod 3): rank 0 holds 1, 4, 7, 10, 13 -> positions in [3, 12)
  // are 4, 7, 10: local rows 1..3.
  const Layout striped(LayoutKind::striped, 14, 3);
  std::vector<kernels::Positions> keys;
  for (int r = 0; r < 3; ++r) keys.push_back(striped.positions((r + 1) % 3));
  const sp::FetchPlan strided(positions, keys, needed);
  EXPECT_EQ(strided.rows(1, 0), cp::RowSet({cp::RowRange{1, 4}}));
}

TEST(LocalHaloOneRank, RejectsBadShapesWithTheOpName) {
  const Tensor q = Tensor::zeros({2, 4, 3}, DType::f64), k = Tensor::zeros({2, 6, 3}, DType::f64);
  LocalHaloOptions options;
  const auto expect_error = [](const std::function<void()>& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "accepted; expected an error with " << part;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("[local_halo]"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error([&] { local_m_halo_attention(q, k, k, options, one_rank(5, 6)); }, "query layout");
  expect_error(
      [&] {
        local_p_halo_attention(q, k, k, Tensor::zeros({2, 3}, DType::f64), options, one_rank(4, 6));
      },
      "centres");
  options.source_lengths = {6, 7};
  expect_error([&] { local_m_halo_attention(q, k, k, options, one_rank(4, 6)); }, "source length 7");
  options.source_lengths = {};
  options.window = 0;
  expect_error([&] { local_m_halo_attention(q, k, k, options, one_rank(4, 6)); }, "half-width");
}

}  // namespace
}  // namespace attnscale

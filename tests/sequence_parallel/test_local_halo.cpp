// The local-attention halo op on one process: finite-difference gradients of its own math (the
// window softmax, the Gaussian and its centre gradient), equality with attention::LocalAttention
// on one rank, the window rule against a brute-force scan, and FetchPlan built from key ranges.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "distributed/context_parallel/fetch_plan.h"
#include "distributed/context_parallel/local_halo.h"
#include "distributed/context_parallel/local_window.h"
#include "framework/attention/local.h"
#include "framework/attention/source_attention.h"
#include "framework/core/autograd/gradcheck.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "tests/test_util/compare.h"

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

// Centres far apart on a long source (windows the query blocks cannot share, more queries than
// one block): outputs and the gradients of q, keys, values and centres equal local.cpp's dense
// formulation written with tensor ops (all S positions scored, the window as a mask).
TEST(LocalHaloOneRank, ScatteredCentresEqualTheDenseFormulation) {
  const int64_t batch = 1, queries = 70, sources = 300, d = 4, dv = 3, window = 2;
  const double sigma = 1.1;
  std::vector<double> centre_values;
  for (int64_t i = 0; i < queries; ++i) centre_values.push_back(i % 2 == 0 ? 3.3 + 0.1 * i : 290.7 - 0.2 * i);
  const Tensor q = uniform({batch, queries, d}, 31, -1, 1).set_requires_grad();
  const Tensor k = uniform({batch, sources, d}, 32, -1, 1).set_requires_grad();
  const Tensor v = uniform({batch, sources, dv}, 33, -1, 1).set_requires_grad();
  const Tensor centres = Tensor::from(centre_values, {batch, queries}).set_requires_grad();
  const Tensor dout = uniform({batch, queries, dv}, 34, -1, 1);

  const Tensor distance = sub(reshape(Tensor::arange(sources, DType::f64), {1, 1, sources}), unsqueeze(centres, 2));
  const Tensor outside = greater(abs(distance.detach()), Tensor::scalar(static_cast<double>(window), DType::f64));
  const Tensor weights = mul(attention::masked_softmax(matmul(q, transpose(k, 1, 2)), outside),
                             exp(mul(square(distance), -1.0 / (2.0 * sigma * sigma))));
  const Tensor dense = matmul(weights, v);
  dense.backward(dout);
  const std::vector<Tensor> want{dense.detach(), q.grad(), k.grad(), v.grad(), centres.grad()};
  for (const Tensor& t : {q, k, v, centres}) t.zero_grad();

  LocalHaloOptions options;
  options.window = window;
  options.sigma = sigma;
  const Tensor out = local_p_halo_attention(q, k, v, centres, options, one_rank(queries, sources));
  out.backward(dout);
  const std::vector<Tensor> got{out.detach(), q.grad(), k.grad(), v.grad(), centres.grad()};
  const char* names[] = {"out", "dq", "dk", "dv", "dcentres"};
  for (size_t t = 0; t < got.size(); ++t) {
    EXPECT_LE(test::max_abs_diff(got[t], want[t]), 1e-13) << names[t];
  }
}

TEST(LocalWindow, QueryBlocksKeepTheirHullNarrow) {
  // Two sequences of 5 queries; D = 1 (width 3), at most 3 queries a block, hull < 3 + 2 * 3 = 9.
  const std::vector<sp::WindowBounds> windows{{0, 2}, {1, 3}, {2, 4}, {3, 5}, {40, 42},  // sequence 0
                                              {0, 2}, {1, 3}, {9, 11}, {2, 4}, {3, 5}};  // sequence 1
  const auto all = sp::query_blocks(windows, 5, 1, 3, [](int64_t) { return true; });
  const std::vector<std::pair<int64_t, int64_t>> expected{{0, 3}, {3, 1}, {4, 1}, {5, 2}, {7, 1}, {8, 2}};
  ASSERT_EQ(all.size(), expected.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].first, expected[i].first) << i;
    EXPECT_EQ(all[i].count, expected[i].second) << i;
  }
  EXPECT_EQ(all[0].hull.first, 0);
  EXPECT_EQ(all[0].hull.last, 4);
  // Only the kept queries, and never across a skipped one.
  const auto odd = sp::query_blocks(windows, 5, 1, 3, [](int64_t q) { return q != 1; });
  EXPECT_EQ(odd[0].first, 0);
  EXPECT_EQ(odd[0].count, 1);
  EXPECT_EQ(odd[1].first, 2);
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

// Distributed hierarchical attention: documents over dp ranks, a document's sentences over the cp
// group with sentence attention merged across it. The merged pooling and its gradients equal
// pooling everything on one rank (fp64), and HAN trained on dp, cp and dp x cp grids follows the
// 1-rank loss curve for the same global batch and ends with the same parameters.
#include <gtest/gtest.h>

#include <cmath>

#include "framework/attention/hierarchical.h"
#include "framework/core/ops/ops.h"
#include "tests/mpi/han_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

TEST(HierarchicalAttention, MergedPoolingAndGradientsEqualOneRank) {
  auto comm = test::fresh_comm();
  const int p = comm->size(), r = comm->rank();
  Generator gen(21);  // the same parameters and inputs on every rank
  attention::AttentionPooling pool(4, 3, attention::PoolingKind::attention, gen, DType::f64);
  const int64_t steps = 2 * p + 1;  // uneven shards: rank r holds [steps * r / p, steps * (r + 1) / p)
  const Tensor h_all = Tensor::randn({3, steps, 4}, gen, DType::f64);
  std::vector<double> mask_values(static_cast<size_t>(3 * steps), 1.0);
  for (int64_t t = 1; t < steps; ++t) mask_values[2 * steps + t] = 0.0;  // row 2: one position (rank 0's)
  const Tensor mask_all = Tensor::from(mask_values, {3, steps});
  const Tensor weight = Tensor::randn({3, 4}, gen, DType::f64);

  // One rank, all positions.
  Tensor h_ref = h_all.clone().set_requires_grad();
  pool.zero_grad();
  sum(mul(pool.forward(h_ref, mask_all), weight)).backward();
  std::vector<Tensor> ref_param_grads;
  for (const Tensor& t : pool.parameters()) ref_param_grads.push_back(t.grad().clone());

  // This rank's positions; the loss counted once (on rank 0), as a replicated classifier would
  // split it, to check that the backward sums the output gradients over the group.
  const int64_t begin = steps * r / p, end = steps * (r + 1) / p;
  Tensor h_local = narrow(h_all, 1, begin, end - begin).contiguous().set_requires_grad();
  const Tensor mask_local = narrow(mask_all, 1, begin, end - begin).contiguous();
  pool.zero_grad();
  const Tensor merged = attention::merge_pooled_states(pool.partial(h_local, mask_local), *comm);
  sum(mul(merged, r == 0 ? weight : mul(weight, 0.0))).backward();

  const Tensor expected = pool.forward(h_all, mask_all);
  const auto got = merged.to_vector<double>(), want = expected.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-13) << "output " << i;
  const auto g_local = h_local.grad().to_vector<double>();
  const auto g_ref = narrow(h_ref.grad(), 1, begin, end - begin).contiguous().to_vector<double>();
  for (size_t i = 0; i < g_local.size(); ++i) EXPECT_NEAR(g_local[i], g_ref[i], 1e-13) << "dh " << i;
  // Parameter gradients: each rank has its positions' share; summed over ranks they are the whole.
  const auto params = pool.parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    Tensor g = params[k].grad().contiguous().clone();
    comm->all_reduce(g.data<double>(), static_cast<size_t>(g.numel()), CommDType::f64, ReduceOp::sum);
    const auto a = g.to_vector<double>(), b = ref_param_grads[k].to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << "parameter " << k << "[" << i << "]";
  }
}

TEST(HanDistributed, SentencesOverTheCpGroupMatchOneRank) {
  test::expect_han_matches_one_rank(1, test::world().size(), config::HanPooling::attention);
}

TEST(HanDistributed, AveragePoolingOverTheCpGroupMatchesOneRank) {
  test::expect_han_matches_one_rank(1, test::world().size(), config::HanPooling::average);
}

TEST(HanDistributed, DocumentsOverDpRanksMatchOneRank) {
  // Documents stay whole on a rank here, so the paper's GRU sentence encoder runs.
  test::expect_han_matches_one_rank(test::world().size(), 1, config::HanPooling::attention, config::SentenceEncoder::gru);
}

TEST(HanDistributed, DpTimesCpGridMatchesOneRank) {
  if (test::world().size() != 4) GTEST_SKIP() << "needs 4 ranks for a 2 x 2 grid";
  test::expect_han_matches_one_rank(2, 2, config::HanPooling::attention);
}

}  // namespace
}  // namespace attnscale

// HAN's transformer sentence encoder with a document's sentences spread over the cp group
// (data/doc_batches.h: rank c holds sentences [n c / P, n (c + 1) / P), padded to S common slots;
// the encoder's self-attention is ring attention over the group). The encoder's outputs and the
// gradients of its inputs and parameters equal the 1-rank encoder's in fp64, for documents whose
// sentence counts do not divide by the ranks and documents with fewer sentences than ranks; HAN
// trained with it on cp and dp x cp grids follows the 1-rank loss curve and ends with the same
// parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "framework/models/han_sentence_transformer.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "tests/mpi/han_test_util.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/test_util/compare.h"

namespace attnscale {
namespace {

// Rows of a [B * S_all, D] tensor (plus a zero row at index B * S_all) that fill this rank's
// [B, S] slots: document b's sentences [n_b r / p, n_b (r + 1) / p), then padding.
std::vector<int64_t> local_rows(const std::vector<int64_t>& counts, int64_t all_slots, int64_t slots, int r, int p) {
  const auto docs = static_cast<int64_t>(counts.size());
  std::vector<int64_t> rows(static_cast<size_t>(docs * slots), docs * all_slots);
  for (int64_t b = 0; b < docs; ++b) {
    const int64_t begin = counts[b] * r / p, end = counts[b] * (r + 1) / p;
    for (int64_t s = begin; s < end; ++s) rows[b * slots + s - begin] = b * all_slots + s;
  }
  return rows;
}

Tensor take_rows(const Tensor& all, const std::vector<int64_t>& rows, const Shape& shape) {
  const int64_t width = all.shape()[2];
  const Tensor flat = concat({reshape(all, {-1, width}), Tensor::zeros({1, width}, all.dtype())}, 0);
  return reshape(index_select(flat, 0, Tensor::from(rows, {static_cast<int64_t>(rows.size())})), shape).contiguous();
}

TEST(HanTransformerDistributed, EncoderOverTheCpGroupEqualsOneRankInFp64) {
  auto comm = test::fresh_comm();
  const int p = comm->size(), r = comm->rank();
  // Sentence counts: fewer than the ranks, not divisible by them, divisible, the longest.
  const std::vector<int64_t> counts{1, 2 * p + 1, p, 3, 3 * p - 1};
  const auto docs = static_cast<int64_t>(counts.size());
  const int64_t all_slots = *std::max_element(counts.begin(), counts.end());
  const int64_t slots = (all_slots + p - 1) / p, dim = 6;

  Generator gen(31);  // the same parameters and inputs on every rank
  models::SentenceTransformer encoder({dim, 2, 2}, gen, DType::f64);
  const Tensor x_all = Tensor::randn({docs, all_slots, dim}, gen, DType::f64);
  const Tensor weight_all = Tensor::randn({docs, all_slots, dim}, gen, DType::f64);
  std::vector<double> mask_values(static_cast<size_t>(docs * all_slots), 0.0);
  for (int64_t b = 0; b < docs; ++b)
    for (int64_t s = 0; s < counts[b]; ++s) mask_values[b * all_slots + s] = 1.0;
  const Tensor mask_all = Tensor::from(mask_values, {docs, all_slots});

  // One rank, every sentence; the loss reads sentence slots only.
  Tensor x_ref = x_all.clone().set_requires_grad();
  encoder.zero_grad();
  const Tensor out_ref = encoder.forward(x_ref, mask_all);
  sum(mul(mul(out_ref, unsqueeze(mask_all, 2)), weight_all)).backward();
  std::vector<Tensor> ref_param_grads;
  for (const Tensor& t : encoder.parameters()) ref_param_grads.push_back(t.grad().clone());

  // This rank's sentences in its S slots; the losses of the ranks add up to the 1-rank loss.
  const std::vector<int64_t> rows = local_rows(counts, all_slots, slots, r, p);
  const Shape local_shape{docs, slots, dim};
  Tensor x_local = take_rows(x_all, rows, local_shape).set_requires_grad();
  const Tensor weight_local = take_rows(weight_all, rows, local_shape);
  std::vector<double> local_mask_values(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) local_mask_values[i] = rows[i] < docs * all_slots ? 1.0 : 0.0;
  const Tensor mask_local = Tensor::from(local_mask_values, {docs, slots});
  encoder.zero_grad();
  const Tensor out_local = encoder.forward(x_local, mask_local, comm.get());
  sum(mul(mul(out_local, unsqueeze(mask_local, 2)), weight_local)).backward();

  const auto got = out_local.to_vector<double>(), dx = x_local.grad().to_vector<double>();
  const auto want = take_rows(out_ref, rows, local_shape).to_vector<double>();
  const auto dx_want = take_rows(x_ref.grad(), rows, local_shape).to_vector<double>();
  double worst_out = 0, worst_dx = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (rows[i / static_cast<size_t>(dim)] == docs * all_slots) continue;  // padding slot
    worst_out = test::worse(worst_out, test::abs_diff(got[i], want[i]));
    worst_dx = test::worse(worst_dx, test::abs_diff(dx[i], dx_want[i]));
  }
  EXPECT_LT(worst_out, 1e-12) << "worst output difference";
  EXPECT_LT(worst_dx, 1e-12) << "worst input-gradient difference";
  // Each rank holds its sentences' share of every parameter gradient; summed they are the whole.
  const auto params = encoder.named_parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    Tensor g = params[k].tensor.grad().contiguous().clone();
    comm->all_reduce(g.data<double>(), static_cast<size_t>(g.numel()), CommDType::f64, ReduceOp::sum);
    EXPECT_LT(test::max_abs_diff(g, ref_param_grads[k]), 1e-11) << params[k].name;
  }
}

TEST(HanTransformerDistributed, SentencesOverTheCpGroupMatchOneRank) {
  test::expect_han_matches_one_rank(1, test::world().size(), config::HanPooling::attention,
                                    config::SentenceEncoder::transformer);
}

TEST(HanTransformerDistributed, AveragePoolingOverTheCpGroupMatchesOneRank) {
  test::expect_han_matches_one_rank(1, test::world().size(), config::HanPooling::average,
                                    config::SentenceEncoder::transformer);
}

TEST(HanTransformerDistributed, DpTimesCpGridMatchesOneRank) {
  if (test::world().size() != 4) GTEST_SKIP() << "needs 4 ranks for a 2 x 2 grid";
  test::expect_han_matches_one_rank(2, 2, config::HanPooling::attention, config::SentenceEncoder::transformer);
}

}  // namespace
}  // namespace attnscale

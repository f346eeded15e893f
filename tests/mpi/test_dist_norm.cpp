// Distributed normalisers under 2, 3 and 4 ranks, against single-rank references on the whole
// key axis: sparsemax (the sort-based kernel, kernels/sparsemax.h), log-softmax (the log_softmax
// op) and hard attention (HardAttention's forward written with single-rank ops: log_softmax,
// Gumbel-max argmax, one_hot_rows, gather, read_out): values and all gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "distributed/sequence_parallel/distributed_hard.h"
#include "distributed/sequence_parallel/distributed_sparsemax.h"
#include "framework/attention/hard.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "kernels/sparsemax.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// Entries `positions` of the last axis of [rows, M] (or of axis 1 of [rows, M, W]).
Tensor shard_keys(const Tensor& x, const kernels::Positions& positions) {
  const Shape& s = x.shape();
  const int64_t width = s.size() == 3 ? s[2] : 1;
  const Tensor rows = test::shard_rows(reshape(x.detach(), {s[0], 1, s[1], width}), positions);
  return s.size() == 3 ? reshape(rows, {s[0], positions.size(), width}) : reshape(rows, {s[0], positions.size()});
}

TEST(DistributedSparsemax, EqualsSingleRankValuesAndGradients) {
  auto comm = test::fresh_comm("dist_sparsemax");
  const int ranks = comm->size();
  for (const DType dtype : {DType::f64, DType::f32}) {
    const int64_t rows = 7, length = 9 * ranks + 2;  // uneven shards
    SCOPED_TRACE(fmt::format("{} rows x {} keys, {}", rows, length, dtype == DType::f64 ? "f64" : "f32"));
    // Scores of spread 3: supports of a few to a dozen keys, across shard edges. Row 5 masks
    // every other key with -inf; row 6 is fully masked.
    std::vector<double> z = test::random_tensor({rows, length}, 31).to_vector<double>();
    for (auto& x : z) x *= 3;
    for (int64_t j = 0; j < length; ++j) {
      if (j % 2 == 0) z[static_cast<size_t>(5 * length + j)] = -INFINITY;
      z[static_cast<size_t>(6 * length + j)] = -INFINITY;
    }
    const std::vector<double> dp = test::random_tensor({rows, length}, 32).to_vector<double>();
    std::vector<double> p_ref(z.size()), dz_ref(z.size()), scratch(static_cast<size_t>(length));
    for (int64_t r = 0; r < rows; ++r) {
      const auto row = [&](std::vector<double>& v) {
        return std::span<double>(v).subspan(static_cast<size_t>(r * length), static_cast<size_t>(length));
      };
      std::vector<double> zc = z, dpc = dp;
      kernels::sparsemax_forward<double>(row(zc), row(p_ref), scratch);
      kernels::sparsemax_backward<double>(row(p_ref), row(dpc), row(dz_ref));
    }
    const kernels::Layout layout(kernels::LayoutKind::contiguous, length, ranks);
    const kernels::Positions mine = layout.positions(comm->rank());
    const Tensor scores = shard_keys(Tensor::from(z, {rows, length}), mine).to(dtype).set_requires_grad();
    const Tensor p = distributed_sparsemax(scores, *comm);
    p.backward(shard_keys(Tensor::from(dp, {rows, length}), mine).to(dtype));
    const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
    EXPECT_LE(test::max_abs_diff(p, shard_keys(Tensor::from(p_ref, {rows, length}), mine).to(dtype)), tol) << "p";
    EXPECT_LE(test::max_abs_diff(scores.grad(), shard_keys(Tensor::from(dz_ref, {rows, length}), mine).to(dtype)), tol)
        << "dz";
    // The rows sum to one across the ranks (the fully masked row to zero).
    const Tensor totals = all_reduce_sum(sum(p.detach(), {-1}), *comm);
    const std::vector<double> t = totals.to(DType::f64).to_vector<double>();
    for (int64_t r = 0; r < rows; ++r) EXPECT_NEAR(t[static_cast<size_t>(r)], r == 6 ? 0.0 : 1.0, tol) << "row " << r;
  }
}

TEST(DistributedLogSoftmax, EqualsSingleRank) {
  auto comm = test::fresh_comm("dist_log_softmax");
  const int64_t rows = 5, length = 7 * comm->size() + 1;
  const Tensor z = test::random_tensor({rows, length}, 41).set_requires_grad();
  const Tensor g = test::random_tensor({rows, length}, 42);
  const Tensor ref = log_softmax(z, -1);
  ref.backward(g);
  const kernels::Positions mine =
      kernels::Layout(kernels::LayoutKind::contiguous, length, comm->size()).positions(comm->rank());
  const Tensor local = shard_keys(z, mine).set_requires_grad();
  const Tensor out = distributed_log_softmax(local, *comm);
  out.backward(shard_keys(g, mine));
  EXPECT_LE(test::max_abs_diff(out, shard_keys(ref, mine)), 1e-12);
  EXPECT_LE(test::max_abs_diff(local.grad(), shard_keys(z.grad(), mine)), 1e-12);
}

enum class HardMode { eval_argmax, reinforce, straight_through };

void check_hard(HardMode mode, kernels::LayoutKind layout_kind) {
  auto comm = test::fresh_comm("dist_hard");
  const int64_t batch = 6, length = 8 * comm->size() + 3, dv = 5;
  const double temperature = 0.7;
  SCOPED_TRACE(fmt::format("mode {} on a {} layout", static_cast<int>(mode), kernels::layout_kind_name(layout_kind)));
  const Tensor scores = test::random_tensor({batch, length}, 51).set_requires_grad();
  const Tensor values = test::random_tensor({batch, length, dv}, 52).set_requires_grad();
  Generator gen(53);
  const Tensor noise =
      mode == HardMode::eval_argmax ? Tensor() : attention::gumbel_noise({batch, length}, gen, DType::f64);
  const Tensor w_context = test::random_tensor({batch, dv}, 54), w_log_prob = test::random_tensor({batch}, 55);

  // Single rank, as HardAttention::forward.
  const Tensor log_p = log_softmax(scores, -1);
  const Tensor sample = argmax(noise.defined() ? add(log_p.detach(), noise) : log_p.detach(), -1);
  const Tensor one_hot = attention::one_hot_rows(sample, length, DType::f64);
  Tensor weights = one_hot, log_prob = squeeze(gather(log_p, 1, unsqueeze(sample, 1)), 1);
  if (mode == HardMode::straight_through) {
    const Tensor relaxed = softmax(mul(add(log_p, noise), 1.0 / temperature), -1);
    weights = add(one_hot, sub(relaxed, relaxed.detach()));
    log_prob = log_prob.detach();
  }
  const Tensor context = attention::read_out(weights, values);
  add(sum(mul(context, w_context)), sum(mul(log_prob, w_log_prob))).backward(Tensor::scalar(1.0, DType::f64));

  const kernels::Layout layout(layout_kind, length, comm->size());
  const kernels::Positions mine = layout.positions(comm->rank());
  const Tensor local_scores = shard_keys(scores, mine).set_requires_grad();
  const Tensor local_values = shard_keys(values, mine).set_requires_grad();
  DistributedHardOptions options;
  options.straight_through = mode == HardMode::straight_through;
  options.temperature = temperature;
  const DistributedHardRead read = distributed_hard_attention(
      local_scores, local_values, noise.defined() ? shard_keys(noise, mine) : Tensor(), *comm, mine, options);
  // The loss is replicated: every rank computes the same value from the replicated outputs.
  add(sum(mul(read.context, w_context)), sum(mul(read.log_prob, w_log_prob))).backward(Tensor::scalar(1.0, DType::f64));

  EXPECT_EQ(read.index.to_vector<int64_t>(), sample.to_vector<int64_t>()) << "the chosen keys";
  EXPECT_LE(test::max_abs_diff(read.context, context), 1e-12) << "context";
  EXPECT_LE(test::max_abs_diff(read.log_prob, log_prob), 1e-12) << "log p(sample)";
  EXPECT_LE(test::max_abs_diff(local_scores.grad(), shard_keys(scores.grad(), mine)), 1e-12) << "d scores";
  EXPECT_LE(test::max_abs_diff(local_values.grad(), shard_keys(values.grad(), mine)), 1e-12) << "d values";
}

TEST(DistributedHardAttention, ArgmaxAtEvaluation) {
  check_hard(HardMode::eval_argmax, kernels::LayoutKind::contiguous);
}
TEST(DistributedHardAttention, GumbelSampleReinforce) {
  check_hard(HardMode::reinforce, kernels::LayoutKind::contiguous);
}
TEST(DistributedHardAttention, GumbelSampleStraightThrough) {
  check_hard(HardMode::straight_through, kernels::LayoutKind::contiguous);
}
TEST(DistributedHardAttention, StripedKeys) { check_hard(HardMode::reinforce, kernels::LayoutKind::striped); }

TEST(DistributedArgmax, TiesGoToTheSmallestPosition) {
  auto comm = test::fresh_comm("dist_argmax");
  const int ranks = comm->size();
  const kernels::Layout layout(kernels::LayoutKind::striped, 4 * ranks, ranks);
  const kernels::Positions mine = layout.positions(comm->rank());
  // Every entry equal: position 0 wins, wherever it lives.
  const Tensor x = Tensor::ones({2, mine.size()}, DType::f32);
  EXPECT_EQ(distributed_argmax(x, *comm, mine).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
}

}  // namespace
}  // namespace attnscale

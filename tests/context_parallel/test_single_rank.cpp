// One rank needs no mpirun: a null cp communicator runs every algorithm locally and equals the
// fused op; the kernels call the progress callback between tiles (what makes ring overlap real).
#include <gtest/gtest.h>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "kernels/attention.h"
#include "tests/test_util/compare.h"

namespace attnscale {
namespace {

using test::max_abs_diff;

TEST(ContextParallelSingleRank, EveryAlgorithmEqualsTheFusedOp) {
  Generator gen(5);
  const Tensor q = Tensor::randn({2, 4, 23, 8}, gen, DType::f64).set_requires_grad();
  const Tensor k = Tensor::randn({2, 2, 23, 8}, gen, DType::f64).set_requires_grad();
  const Tensor v = Tensor::randn({2, 2, 23, 4}, gen, DType::f64).set_requires_grad();
  AttentionSpec spec;
  spec.mask.causal = true;
  spec.mask.window = kernels::Window{7, 0};
  const Tensor ref = fused_attention(q, k, v, spec);
  ref.backward(Tensor::ones(ref.shape(), DType::f64));
  const std::vector<Tensor> ref_grads{q.grad(), k.grad(), v.grad()};
  for (const ParallelAlgo algo : {ParallelAlgo::ring, ParallelAlgo::ulysses}) {
    for (const Tensor& t : {q, k, v}) t.zero_grad();
    const ContextParallelGroup group{nullptr, nullptr, nullptr, algo, kernels::Layout(kernels::LayoutKind::zigzag, 23, 1)};
    const Tensor out = context_parallel_attention(q, k, v, spec, group);
    EXPECT_LE(max_abs_diff(out, ref), 1e-13) << parallel_algo_name(algo);
    out.backward(Tensor::ones(out.shape(), DType::f64));
    EXPECT_LE(max_abs_diff(q.grad(), ref_grads[0]), 1e-13);
    EXPECT_LE(max_abs_diff(k.grad(), ref_grads[1]), 1e-13);
    EXPECT_LE(max_abs_diff(v.grad(), ref_grads[2]), 1e-13);
  }
}

TEST(ContextParallelSingleRank, PositionsThatContradictTheLayoutAreRefused) {
  const Tensor x = Tensor::zeros({1, 1, 6, 4}, DType::f64);
  AttentionSpec spec;
  spec.q_positions = kernels::Positions::contiguous(1, 6);
  const ContextParallelGroup group{nullptr, nullptr, nullptr, ParallelAlgo::ring,
                                   kernels::Layout(kernels::LayoutKind::contiguous, 6, 1)};
  EXPECT_THROW(context_parallel_attention(x, x, x, spec, group), UsageError);
  const ContextParallelGroup two_ranks{nullptr, nullptr, nullptr, ParallelAlgo::ring,
                                       kernels::Layout(kernels::LayoutKind::contiguous, 12, 2)};
  EXPECT_THROW(context_parallel_attention(x, x, x, AttentionSpec{}, two_ranks), UsageError);
}

TEST(KernelProgress, CalledBetweenTilesForwardAndBackward) {
  kernels::AttentionShape shape{1, 2, 2, 64, 96, 8, 8};
  kernels::AttentionParams p = kernels::default_attention_params(shape);
  p.tiles = {16, 16, 16, 16};
  int calls = 0;
  p.progress = [&calls] { ++calls; };
  std::vector<float> q(static_cast<size_t>(shape.q_size()), 0.1f), k(static_cast<size_t>(shape.k_size()), 0.2f),
      v(static_cast<size_t>(shape.v_size()), 0.3f), out(static_cast<size_t>(shape.out_size())),
      lse(static_cast<size_t>(shape.rows()));
  kernels::attention_forward<float>(p, {q, k, v, out, lse});
  EXPECT_GE(calls, 2 * (64 / 16) * (96 / 16)) << "once per key tile of every query tile";
  calls = 0;
  std::vector<float> dq(q.size()), dk(k.size()), dv(v.size()), delta(lse.size());
  kernels::attention_delta<float>(out, out, shape.value_dim, delta);
  kernels::attention_backward<float>(p, {q, k, v, out, lse, delta, dq, dk, dv});
  EXPECT_GE(calls, 2 * (64 / 16) * (96 / 16));
}

}  // namespace
}  // namespace attnscale

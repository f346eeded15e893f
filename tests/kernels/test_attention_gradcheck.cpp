// Finite differences of the fused kernel's fp64 path: L = sum(dout * out) differentiated
// numerically against attention_backward, with a combined causal + window + segment mask, GQA
// and striped positions (independent of the analytic reference used elsewhere).
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

TEST(AttentionGradcheck, Fp64MatchesFiniteDifferences) {
  const kernels::Layout layout(kernels::LayoutKind::striped, 22, 2);
  AttentionCase c;
  c.q_positions = layout.positions(1);
  c.k_positions = layout.positions(0);
  c.shape = AttentionShape{1, 2, 1, c.q_positions.size(), c.k_positions.size(), 3, 2};
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{9}, int64_t{0});
  c.mask.q_segment = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
  c.mask.k_segment = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  c.tiles = kernels::TileSizes{4, 3, 3, 4};
  const auto params = c.params();
  const auto& s = c.shape;
  auto q = random_vector(s.q_size(), 1), k = random_vector(s.k_size(), 2),
       v = random_vector(s.v_size(), 3);
  const auto dout = random_vector(s.out_size(), 4);

  auto loss = [&] {
    std::vector<double> out(s.out_size()), lse(s.rows());
    kernels::attention_forward<double>(params, {q, k, v, out, lse});
    double sum = 0;
    for (size_t x = 0; x < out.size(); ++x) sum += out[x] * dout[x];
    return sum;
  };
  std::vector<double> out(s.out_size()), lse(s.rows()), delta(s.rows());
  kernels::attention_forward<double>(params, {q, k, v, out, lse});
  kernels::attention_delta<double>(dout, out, s.value_dim, delta);
  std::vector<double> dq(s.q_size()), dk(s.k_size()), dv(s.v_size());
  kernels::attention_backward<double>(params, {q, k, v, dout, lse, delta, dq, dk, dv});

  const double h = 1e-6;
  for (auto [name, x, grad] : {std::tuple{"q", &q, &dq}, std::tuple{"k", &k, &dk},
                               std::tuple{"v", &v, &dv}})
    for (size_t at = 0; at < x->size(); ++at) {
      const double saved = (*x)[at];
      (*x)[at] = saved + h;
      const double up = loss();
      (*x)[at] = saved - h;
      const double down = loss();
      (*x)[at] = saved;
      EXPECT_NEAR((*grad)[at], (up - down) / (2 * h), 1e-7) << name << "[" << at << "]";
    }
}

}  // namespace
}  // namespace attnscale::test

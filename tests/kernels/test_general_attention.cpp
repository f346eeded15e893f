// The general path: dot scores with softmax against the fp64 reference (and so against the fused
// kernel), sparsemax against a naive implementation, and every gradient against finite
// differences of the fp64 path.
#include <functional>

#include "kernels/general_attention.h"
#include "kernels/sparsemax.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

using kernels::Normalizer;

template <typename T>
class GeneralSoftmaxTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GeneralSoftmaxTest, Types);

template <typename T>
void check_general_dot_softmax(const AttentionCase& c) {
  const CaseData data = make_data(c);
  const auto params = c.params();
  const kernels::DotScore<T> score(c.shape.head_dim, c.used_scale());
  const auto q = cast<T>(data.q), k = cast<T>(data.k), v = cast<T>(data.v),
             dout = cast<T>(data.dout);
  std::vector<T> out(c.shape.out_size()), lse(c.shape.rows()), delta(c.shape.rows());
  kernels::general_attention_forward<T>(params, score, Normalizer::softmax, {q, k, v, out, lse});
  kernels::attention_delta<T>(dout, out, c.shape.value_dim, delta);
  std::vector<T> dq(c.shape.q_size()), dk(c.shape.k_size()), dv(c.shape.v_size());
  kernels::general_attention_backward<T>(params, score, Normalizer::softmax,
                                         {q, k, v, dout, lse, delta, dq, dk, dv});
  const double tol = tolerance<T>();
  expect_close("out", out, data.ref.out, tol, tol);
  expect_close("lse", lse, data.ref.lse, tol, tol);
  expect_close("dq", dq, data.ref.dq, tol, tol);
  expect_close("dk", dk, data.ref.dk, tol, tol);
  expect_close("dv", dv, data.ref.dv, tol, tol);
}

TYPED_TEST(GeneralSoftmaxTest, DotScoreCausalWindowGqaMatchesReference) {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 2, 23, 31, 8, 6};
  c.q_offset = 6;
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{10}, int64_t{0});
  c.tiles = kernels::TileSizes{5, 7, 5, 7};
  check_general_dot_softmax<TypeParam>(c);
}

TYPED_TEST(GeneralSoftmaxTest, DotScoreKeyPaddingWithFullyMaskedRows) {
  AttentionCase c;
  c.shape = AttentionShape{2, 1, 1, 9, 12, 4, 4};
  c.mask.k_valid.assign(24, 1);
  for (int64_t j = 0; j < 12; ++j) c.mask.k_valid[12 + j] = 0;
  c.tiles = kernels::TileSizes{4, 5, 4, 5};
  check_general_dot_softmax<TypeParam>(c);
}

// ---- naive general attention in fp64 ------------------------------------------------------

using ScoreFn = std::function<double(const double* q, const double* k)>;

std::vector<double> naive_general(const AttentionCase& c, const ScoreFn& score, Normalizer norm,
                                  const std::vector<double>& q, const std::vector<double>& k,
                                  const std::vector<double>& v) {
  const AttentionShape& s = c.shape;
  const auto q_pos = expand(c.q_pos()), k_pos = expand(c.k_pos());
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  std::vector<double> out(s.out_size(), 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const int64_t bh = b * s.q_heads + h, kv = b * s.kv_heads + h / (s.q_heads / s.kv_heads);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> z(m, -std::numeric_limits<double>::infinity());
        for (int64_t j = 0; j < m; ++j)
          if (c.mask.allowed(b, i, j, q_pos[i], k_pos[j], n, m))
            z[j] = score(&q[(bh * n + i) * d], &k[(kv * m + j) * d]);
        std::vector<double> p(m, 0.0);
        if (norm == Normalizer::sparsemax) {
          std::vector<double> scratch(m);
          kernels::sparsemax_forward<double>(z, p, scratch);
        } else {
          double mx = -std::numeric_limits<double>::infinity(), sum = 0;
          for (const double x : z) mx = std::max(mx, x);
          if (mx == -std::numeric_limits<double>::infinity()) continue;
          for (int64_t j = 0; j < m; ++j) sum += std::exp(z[j] - mx);
          for (int64_t j = 0; j < m; ++j) p[j] = std::exp(z[j] - mx) / sum;
        }
        for (int64_t j = 0; j < m; ++j)
          for (int64_t x = 0; x < dv; ++x)
            out[(bh * n + i) * dv + x] += p[j] * v[(kv * m + j) * dv + x];
      }
    }
  return out;
}

// Runs the fp64 general path forward; lse only for softmax.
std::vector<double> general_out(const AttentionCase& c, const kernels::ScoreFunction<double>& score,
                                Normalizer norm, const std::vector<double>& q,
                                const std::vector<double>& k, const std::vector<double>& v,
                                std::vector<double>* lse_out = nullptr) {
  std::vector<double> out(c.shape.out_size()), lse;
  if (norm == Normalizer::softmax) lse.resize(c.shape.rows());
  kernels::general_attention_forward<double>(c.params(), score, norm, {q, k, v, out, lse});
  if (lse_out) *lse_out = lse;
  return out;
}

double weighted_sum(const std::vector<double>& out, const std::vector<double>& weights) {
  double s = 0;
  for (size_t x = 0; x < out.size(); ++x) s += out[x] * weights[x];
  return s;
}

// Checks dq, dk, dv of L = sum(dout * out) by central differences.
void check_gradients(const AttentionCase& c, Normalizer norm, const kernels::ScoreFunction<double>& score) {
  CaseData data;
  data.q = random_vector(c.shape.q_size(), 21);
  data.k = random_vector(c.shape.k_size(), 22);
  data.v = random_vector(c.shape.v_size(), 23);
  data.dout = random_vector(c.shape.out_size(), 24);
  std::vector<double> lse, delta(c.shape.rows());
  const auto out = general_out(c, score, norm, data.q, data.k, data.v, &lse);
  std::vector<double> dq(c.shape.q_size()), dk(c.shape.k_size()), dv(c.shape.v_size());
  if (norm == Normalizer::softmax) {
    kernels::attention_delta<double>(data.dout, out, c.shape.value_dim, delta);
  } else {
    delta.clear();
  }
  kernels::general_attention_backward<double>(c.params(), score, norm,
                                              {data.q, data.k, data.v, data.dout, lse, delta, dq, dk, dv});

  const double h = 1e-6;
  auto numeric = [&](std::vector<double>& x, size_t at, const std::function<double()>& loss) {
    const double saved = x[at];
    x[at] = saved + h;
    const double up = loss();
    x[at] = saved - h;
    const double down = loss();
    x[at] = saved;
    return (up - down) / (2 * h);
  };
  auto loss = [&] { return weighted_sum(general_out(c, score, norm, data.q, data.k, data.v), data.dout); };
  for (auto [name, x, grad] : {std::tuple{"q", &data.q, &dq}, std::tuple{"k", &data.k, &dk},
                               std::tuple{"v", &data.v, &dv}}) {
    for (size_t at = 0; at < x->size(); ++at)
      EXPECT_NEAR((*grad)[at], numeric(*x, at, loss), 1e-6) << name << "[" << at << "]";
  }
}

AttentionCase small_case() {
  AttentionCase c;
  c.shape = AttentionShape{1, 2, 1, 5, 7, 3, 2};
  c.q_offset = 2;
  c.mask.causal = true;
  c.tiles = kernels::TileSizes{2, 3, 2, 3};
  return c;
}

TEST(GeneralSparsemax, ForwardMatchesNaive) {
  AttentionCase c;
  c.shape = AttentionShape{2, 2, 1, 13, 17, 5, 4};
  c.mask.window = std::make_pair(int64_t{6}, int64_t{2});
  c.tiles = kernels::TileSizes{4, 5, 4, 5};
  const auto q = random_vector(c.shape.q_size(), 1, -2, 2), k = random_vector(c.shape.k_size(), 2, -2, 2),
             v = random_vector(c.shape.v_size(), 3);
  const double scale = c.used_scale();
  const kernels::DotScore<double> score(c.shape.head_dim, scale);
  const auto want = naive_general(
      c,
      [&](const double* a, const double* b) {
        double s = 0;
        for (int64_t x = 0; x < c.shape.head_dim; ++x) s += a[x] * b[x];
        return scale * s;
      },
      Normalizer::sparsemax, q, k, v);
  const auto got = general_out(c, score, Normalizer::sparsemax, q, k, v);
  expect_close("out", got, want, 1e-12, 1e-12);
  // The float path too.
  const kernels::DotScore<float> score_f(c.shape.head_dim, scale);
  std::vector<float> out_f(c.shape.out_size());
  kernels::general_attention_forward<float>(c.params(), score_f, Normalizer::sparsemax,
                                            {cast<float>(q), cast<float>(k), cast<float>(v), out_f, {}});
  expect_close("out_f32", out_f, want, 1e-5, 1e-5);
}

TEST(GeneralSparsemax, GradientsMatchFiniteDifferences) {
  const AttentionCase c = small_case();
  check_gradients(c, Normalizer::sparsemax, kernels::DotScore<double>(c.shape.head_dim, 1.3));
}

TEST(GeneralAttention, RejectsLseForSparsemaxAndMismatchedDims) {
  AttentionCase c = small_case();
  const kernels::DotScore<double> wrong_dim(c.shape.head_dim + 1, 1.0);
  std::vector<double> q(c.shape.q_size()), k(c.shape.k_size()), v(c.shape.v_size()),
      out(c.shape.out_size()), lse(c.shape.rows());
  EXPECT_THROW(kernels::general_attention_forward<double>(c.params(), wrong_dim,
                                                          Normalizer::softmax, {q, k, v, out, lse}),
               UsageError);
  const kernels::DotScore<double> score(c.shape.head_dim, 1.0);
  EXPECT_THROW(kernels::general_attention_forward<double>(c.params(), score,
                                                          Normalizer::sparsemax, {q, k, v, out, lse}),
               UsageError);
  EXPECT_THROW(kernels::parse_normalizer("entmax"), UsageError);
}

}  // namespace
}  // namespace attnscale::test

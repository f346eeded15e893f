// The SIMD kernels' two variants (kernels/isa.h) on the same inputs: the AVX2 variant, which runs
// on any machine here, against plain loops in double and against the AVX-512 variant (bit for bit
// where both fix the order of operations), and the fused attention kernels run through each.
// The comparisons with AVX-512 skip on a CPU without it.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/cpu/tile_gemm.h"
#include "kernels/cpu/vec_exp.h"
#include "kernels/isa.h"
#include "kernels/optim.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

using kernels::Isa;

// Runs the kernels on `isa` while in scope.
class IsaScope {
 public:
  explicit IsaScope(Isa isa) : saved_(kernels::active_isa()) { kernels::set_active_isa(isa); }
  ~IsaScope() { kernels::set_active_isa(saved_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  Isa saved_;
};

// The variants to compare: AVX2 always (every x86-64-v3 CPU), AVX-512 where the CPU has it.
std::vector<Isa> variants() {
  std::vector<Isa> out{Isa::avx2};
  if (kernels::cpu_supports(Isa::avx512)) out.push_back(Isa::avx512);
  return out;
}

template <typename T>
void expect_bitwise_equal(const std::vector<T>& a, const std::vector<T>& b, const std::string& what) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(std::bit_cast<Bits>(a[i]), std::bit_cast<Bits>(b[i])) << what << "[" << i << "]: " << a[i] << " vs " << b[i];
}

std::vector<double> as_double(const std::vector<float>& x) { return {x.begin(), x.end()}; }

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  const std::vector<double> d = random_vector(n, seed);
  return {d.begin(), d.end()};
}

TEST(Isa, DefaultIsTheWidestTheCpuHasUnlessTheEnvironmentSaysOtherwise) {
  EXPECT_TRUE(kernels::cpu_supports(Isa::avx2));
  const char* requested = std::getenv("ATTNSCALE_ISA");
  const Isa expected = requested && std::string(requested) == "avx2" ? Isa::avx2
                       : kernels::cpu_supports(Isa::avx512)        ? Isa::avx512
                                                                   : Isa::avx2;
  EXPECT_STREQ(kernels::isa_name(kernels::active_isa()), kernels::isa_name(expected));
  EXPECT_STREQ(kernels::isa_name(Isa::avx2), "avx2");
  EXPECT_STREQ(kernels::isa_name(Isa::avx512), "avx512");
}

TEST(Isa, AVariantTheCpuLacksIsRefused) {
  if (kernels::cpu_supports(Isa::avx512)) GTEST_SKIP() << "this CPU runs every variant";
  EXPECT_THROW(kernels::set_active_isa(Isa::avx512), UsageError);
}

// Every register-block shape (1-6 rows, 1-4 registers, column tails of 1..width), both operand
// strides of A, overwrite and accumulate.
TEST(Isa, TileGemmVariantsAgreeBitwiseAndWithDouble) {
  for (const int64_t rows : {1, 5, 6, 7, 13})
    for (const int64_t cols : {1, 7, 8, 9, 16, 17, 33, 63, 64, 65, 130})
      for (const int64_t depth : {1, 3, 40})
        for (const bool transposed_a : {false, true})
          for (const bool accumulate : {false, true}) {
            const std::string what = "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " depth " +
                                     std::to_string(depth) + (transposed_a ? " A^T" : "") +
                                     (accumulate ? " +=" : "");
            const std::vector<float> a = random_floats(rows * depth, 1), b = random_floats(depth * cols, 2),
                                     c0 = random_floats(rows * cols, 3);
            const int64_t a_row = transposed_a ? 1 : depth, a_k = transposed_a ? rows : 1;
            std::vector<std::vector<float>> results;
            for (const Isa isa : variants()) {
              IsaScope scope(isa);
              std::vector<float> c = c0;
              kernels::cpu::tile_gemm<float>(rows, cols, depth, a.data(), a_row, a_k, b.data(), cols, c.data(), cols,
                                             accumulate);
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < cols; ++j) {
                  double want = accumulate ? c0[r * cols + j] : 0.0, scale = std::abs(want);
                  for (int64_t k = 0; k < depth; ++k) {
                    const double term = static_cast<double>(a[r * a_row + k * a_k]) * b[k * cols + j];
                    want += term;
                    scale += std::abs(term);
                  }
                  const double diff = std::abs(c[r * cols + j] - want);
                  ASSERT_TRUE(diff <= 1e-6 * scale + 1e-30)
                      << kernels::isa_name(isa) << " " << what << " C[" << r << "][" << j << "] = " << c[r * cols + j]
                      << ", exact " << want;
                }
              results.push_back(std::move(c));
            }
            for (size_t v = 1; v < results.size(); ++v) expect_bitwise_equal(results[v], results[0], what);
          }
}

TEST(Isa, ExpVariantsAgreeBitwiseAndWithDouble) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -1000.0f, -87.4f, -87.2f, -0.0f, 0.0f, 1e-8f, 88.0f, 88.7f, 100.0f};
  for (float v = -87.0f; v <= 10.0f; v += 0.0371f) x.push_back(v);
  const auto n_all = static_cast<int64_t>(x.size());
  std::vector<std::vector<float>> results;
  for (const Isa isa : variants()) {
    IsaScope scope(isa);
    std::vector<float> all;
    // Every tail length against the whole array: lane masks must neither drop nor invent values.
    for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{15}, int64_t{17}, n_all}) {
      std::vector<float> y(static_cast<size_t>(n), -1.0f);
      kernels::cpu::exp_array(x.data(), y.data(), n);
      std::vector<float> shifted(x.begin(), x.begin() + n), shift(static_cast<size_t>(n), 0.5f),
          sum(static_cast<size_t>(n), 1.0f);
      kernels::cpu::exp_shift_accumulate(shifted.data(), shift.data(), sum.data(), n);
      std::vector<float> scaled(x.begin(), x.begin() + n);
      kernels::cpu::exp_scale_shift(scaled.data(), 0.5f, -2.0f, n);
      for (int64_t i = 0; i < n; ++i) {
        const double xi = x[i];
        const auto check = [&](const char* fn, float got, double want) {
          const bool ok = want < 1e-38 ? got == 0.0f || std::abs(got - want) <= 1e-44
                                       : std::abs(got - want) <= 2.5e-7 * want;
          ASSERT_TRUE(ok) << kernels::isa_name(isa) << " " << fn << "(" << xi << ") = " << got << ", exact " << want;
        };
        constexpr double high = 88.7f;  // inputs above are clamped here; below -87.3 the result is 0
        // The exact exp of the argument the kernel forms in float (a subtraction, a fused multiply-add).
        const auto exact = [&](double arg) { return arg < -87.3 ? 0.0 : std::exp(std::min(arg, high)); };
        check("exp", y[i], exact(xi));
        check("exp_shift", shifted[i], exact(x[i] - 0.5f));
        ASSERT_EQ(sum[i], 1.0f + shifted[i]);
        check("exp_scale_shift", scaled[i], exact(std::fma(x[i], 0.5f, 2.0f)));
      }
      all.insert(all.end(), y.begin(), y.end());
      all.insert(all.end(), shifted.begin(), shifted.end());
      all.insert(all.end(), sum.begin(), sum.end());
      all.insert(all.end(), scaled.begin(), scaled.end());
    }
    results.push_back(std::move(all));
  }
  for (size_t v = 1; v < results.size(); ++v) expect_bitwise_equal(results[v], results[0], "exp");
}

// Sizes below one lane group, with a partial group, and large enough for threads.
template <typename T>
void expect_optimizer_variants_agree() {
  for (const int64_t n : {int64_t{3}, int64_t{37}, int64_t{70001}}) {
    const std::vector<double> p0 = random_vector(n, 5), g = random_vector(n, 6), m0 = random_vector(n, 7),
                              v0 = random_vector(n, 8, 0.0, 1.0);
    const std::vector<T> grad(g.begin(), g.end());
    std::vector<std::vector<T>> results;
    std::vector<double> norms;
    for (const Isa isa : variants()) {
      IsaScope scope(isa);
      std::vector<T> sgd_p(p0.begin(), p0.end()), sgd_buf(m0.begin(), m0.end());
      kernels::sgd_update<T>(n, sgd_p.data(), grad.data(), sgd_buf.data(), {0.1, 0.9, 0.0, 0.01, true, false});
      std::vector<T> adam_p(p0.begin(), p0.end()), m(m0.begin(), m0.end()), v(v0.begin(), v0.end());
      kernels::adam_update<T>(n, adam_p.data(), grad.data(), m.data(), v.data(), {1e-3, 0.9, 0.999, 1e-8, 0.1, true, 3});
      for (int64_t i = 0; i < n; ++i) {  // spot-check the formulas in double
        const double d = g[i] + 0.01 * p0[i], buf = 0.9 * m0[i] + d;
        ASSERT_NEAR(sgd_p[i], p0[i] - 0.1 * (d + 0.9 * buf), sizeof(T) == 4 ? 1e-6 : 1e-14) << kernels::isa_name(isa);
        const double mm = 0.9 * m0[i] + 0.1 * g[i], vv = 0.999 * v0[i] + 0.001 * g[i] * g[i];
        const double step = 1e-3 / (1 - std::pow(0.9, 3)), denom = std::sqrt(vv) / std::sqrt(1 - std::pow(0.999, 3)) + 1e-8;
        ASSERT_NEAR(adam_p[i], p0[i] * (1 - 1e-4) - step * mm / denom, sizeof(T) == 4 ? 1e-6 : 1e-14)
            << kernels::isa_name(isa);
      }
      std::vector<T> all = sgd_p;
      for (const auto* part : {&sgd_buf, &adam_p, &m, &v}) all.insert(all.end(), part->begin(), part->end());
      results.push_back(std::move(all));
      norms.push_back(kernels::sum_of_squares<T>(n, grad.data()));
    }
    double exact = 0;
    for (const T x : grad) exact += static_cast<double>(x) * static_cast<double>(x);
    for (size_t k = 0; k < norms.size(); ++k) EXPECT_NEAR(norms[k], exact, 1e-13 * exact) << "n " << n;
    for (size_t k = 1; k < results.size(); ++k) expect_bitwise_equal(results[k], results[0], "optimizer n " + std::to_string(n));
  }
}

TEST(Isa, OptimizerVariantsAgreeBitwiseFloat) { expect_optimizer_variants_agree<float>(); }
TEST(Isa, OptimizerVariantsAgreeBitwiseDouble) { expect_optimizer_variants_agree<double>(); }

// The fused attention kernels, forward and backward, through each variant: both within the fp32
// tolerance of the fp64 reference, and within 1e-6 of each other.
TEST(Isa, FusedAttentionOnEachVariantMatchesTheReference) {
  AttentionCase c;
  c.shape = {2, 4, 2, 37, 45, 24, 20};  // GQA, lengths and widths that leave tails in every tile
  c.mask.causal = true;
  c.q_offset = 8;
  const CaseData data = make_data(c);
  std::vector<KernelResult<float>> results;
  for (const Isa isa : variants()) {
    IsaScope scope(isa);
    SCOPED_TRACE(kernels::isa_name(isa));
    check_case<float>(c);
    results.push_back(run_kernels<float>(c, data));
  }
  for (size_t v = 1; v < results.size(); ++v) {
    expect_close("out", results[v].out, as_double(results[0].out), 1e-6, 1e-6);
    expect_close("lse", results[v].lse, as_double(results[0].lse), 1e-6, 1e-6);
    expect_close("dq", results[v].dq, as_double(results[0].dq), 1e-6, 1e-6);
    expect_close("dk", results[v].dk, as_double(results[0].dk), 1e-6, 1e-6);
    expect_close("dv", results[v].dv, as_double(results[0].dv), 1e-6, 1e-6);
  }
}

}  // namespace
}  // namespace attnscale::test

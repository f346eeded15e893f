// Test helpers: a naive fp64 attention (forward and backward) written from the definition, a mask
// description the tests evaluate on their own (independent of kernels/mask.h), random data and
// comparisons that report the worst difference per tensor.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/attention.h"

namespace attnscale::test {

using kernels::AttentionShape;

// A mask as the tests understand it, evaluated here without kernels/mask.h.
struct MaskCase {
  bool causal = false;
  std::optional<std::pair<int64_t, int64_t>> window;  // (left, right)
  int64_t block_size = 0;                              // > 0: block matrix below applies
  int64_t block_rows = 0, block_cols = 0, block_q_origin = 0, block_k_origin = 0;
  std::vector<uint8_t> blocks;
  std::vector<int32_t> q_segment, k_segment, k_valid;  // [B,N], [B,M], [B,M] or empty

  bool allowed(int64_t b, int64_t i, int64_t j, int64_t qp, int64_t kp, int64_t n,
               int64_t m) const {
    if (causal && !(kp <= qp)) return false;
    if (window && !(qp - window->first <= kp && kp <= qp + window->second)) return false;
    if (block_size > 0) {
      auto floor_div = [](int64_t a, int64_t bs) { return a >= 0 ? a / bs : -((-a + bs - 1) / bs); };
      const int64_t r = floor_div(qp - block_q_origin, block_size);
      const int64_t c = floor_div(kp - block_k_origin, block_size);
      if (r < 0 || c < 0 || r >= block_rows || c >= block_cols) return false;
      if (blocks[r * block_cols + c] == 0) return false;
    }
    if (!q_segment.empty() && q_segment[b * n + i] != k_segment[b * m + j]) return false;
    if (!k_valid.empty() && k_valid[b * m + j] == 0) return false;
    return true;
  }
};

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};

// Naive attention over explicit global positions (q_pos [N], k_pos [M]).
inline Reference reference_attention(const AttentionShape& s, double scale, const MaskCase& mask,
                                     const std::vector<int64_t>& q_pos,
                                     const std::vector<int64_t>& k_pos,
                                     const std::vector<double>& q, const std::vector<double>& k,
                                     const std::vector<double>& v,
                                     const std::vector<double>* dout) {
  const int64_t n = s.q_len, m = s.k_len, d = s.head_dim, dv = s.value_dim;
  const int64_t group = s.q_heads / s.kv_heads;
  Reference r;
  r.out.assign(s.out_size(), 0.0);
  r.lse.assign(s.rows(), -std::numeric_limits<double>::infinity());
  if (dout) {
    r.dq.assign(s.q_size(), 0.0);
    r.dk.assign(s.k_size(), 0.0);
    r.dv.assign(s.v_size(), 0.0);
  }
  std::vector<double> p(m), dp(m);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.q_heads; ++h) {
      const int64_t bh = b * s.q_heads + h, kv = b * s.kv_heads + h / group;
      for (int64_t i = 0; i < n; ++i) {
        const double* qi = &q[(bh * n + i) * d];
        double mx = -std::numeric_limits<double>::infinity();
        std::vector<char> ok(m);
        for (int64_t j = 0; j < m; ++j) {
          ok[j] = mask.allowed(b, i, j, q_pos[i], k_pos[j], n, m);
          if (!ok[j]) continue;
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += qi[c] * k[(kv * m + j) * d + c];
          p[j] = scale * dot;
          mx = std::max(mx, p[j]);
        }
        if (mx == -std::numeric_limits<double>::infinity()) continue;  // no allowed key
        double sum = 0;
        for (int64_t j = 0; j < m; ++j) sum += ok[j] ? std::exp(p[j] - mx) : 0.0;
        const double lse = mx + std::log(sum);
        r.lse[bh * n + i] = lse;
        for (int64_t j = 0; j < m; ++j) {
          p[j] = ok[j] ? std::exp(p[j] - lse) : 0.0;
          for (int64_t c = 0; c < dv; ++c)
            r.out[(bh * n + i) * dv + c] += p[j] * v[(kv * m + j) * dv + c];
        }
        if (!dout) continue;
        const double* go = &(*dout)[(bh * n + i) * dv];
        double delta = 0;
        for (int64_t j = 0; j < m; ++j) {
          dp[j] = 0;
          for (int64_t c = 0; c < dv; ++c) dp[j] += go[c] * v[(kv * m + j) * dv + c];
          delta += p[j] * dp[j];
        }
        for (int64_t j = 0; j < m; ++j) {
          if (!ok[j]) continue;
          const double ds = scale * p[j] * (dp[j] - delta);
          for (int64_t c = 0; c < d; ++c) {
            r.dq[(bh * n + i) * d + c] += ds * k[(kv * m + j) * d + c];
            r.dk[(kv * m + j) * d + c] += ds * qi[c];
          }
          for (int64_t c = 0; c < dv; ++c) r.dv[(kv * m + j) * dv + c] += p[j] * go[c];
        }
      }
    }
  return r;
}

inline std::vector<double> random_vector(int64_t count, uint64_t seed, double lo = -1.0,
                                         double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> x(static_cast<size_t>(count));
  for (auto& e : x) e = dist(rng);
  return x;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

// Expects |got - want| <= atol + rtol * |want| elementwise (infinities must match exactly) and
// prints the worst difference.
template <typename T>
void expect_close(const std::string& name, const std::vector<T>& got,
                  const std::vector<double>& want, double atol, double rtol) {
  ASSERT_EQ(got.size(), want.size()) << name;
  double worst = 0;
  size_t worst_at = 0, bad = 0;
  for (size_t x = 0; x < want.size(); ++x) {
    const double g = static_cast<double>(got[x]), w = want[x];
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w) ++bad, worst_at = x, worst = std::numeric_limits<double>::infinity();
      continue;
    }
    const double diff = std::abs(g - w);
    if (!(diff <= atol + rtol * std::abs(w))) ++bad;
    if (!(diff <= worst)) worst = diff, worst_at = x;
  }
  EXPECT_EQ(bad, 0u) << name << ": " << bad << " of " << want.size()
                     << " entries out of tolerance; worst |diff| " << worst << " at " << worst_at
                     << " (got " << (got.empty() ? 0.0 : double(got[worst_at])) << ", want "
                     << (want.empty() ? 0.0 : want[worst_at]) << ")";
  ::testing::Test::RecordProperty("worst_" + name, std::to_string(worst));
}

}  // namespace attnscale::test

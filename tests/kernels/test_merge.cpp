// The (out, lse) merge: split key ranges merged equal the whole, the kernel's merge_into_output
// mode, a ring-style backward per key block (dq accumulated with the final lse and delta), and
// the -inf and overflow edge cases of merge_softmax_row.
#include <limits>

#include "kernels/softmax_merge.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

using kernels::Positions;

// Copies key rows [k0, k0 + count) of every (batch, kv head) of x [B,Hkv,M,width].
std::vector<float> key_slice(const std::vector<double>& x, const AttentionShape& s, int64_t width,
                             int64_t k0, int64_t count) {
  std::vector<float> out;
  for (int64_t bh = 0; bh < s.batch * s.kv_heads; ++bh)
    for (int64_t j = k0; j < k0 + count; ++j)
      for (int64_t c = 0; c < width; ++c) out.push_back(static_cast<float>(x[(bh * s.k_len + j) * width + c]));
  return out;
}

AttentionCase causal_case() {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 2, 40, 52, 16, 12};
  c.q_offset = 12;
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{30}, int64_t{0});
  return c;
}

// Forward of the case's queries against keys [k0, k0 + count) at their global positions.
struct Block {
  kernels::AttentionParams params;
  std::vector<float> k, v;
};

Block key_block(const AttentionCase& c, const CaseData& data, int64_t k0, int64_t count) {
  Block b{c.params(), key_slice(data.k, c.shape, c.shape.head_dim, k0, count),
          key_slice(data.v, c.shape, c.shape.value_dim, k0, count)};
  b.params.shape.k_len = count;
  b.params.k_positions = Positions::contiguous(k0, count);
  return b;
}

TEST(SoftmaxMerge, SplitKeyRangesMergeToTheWhole) {
  const AttentionCase c = causal_case();
  const CaseData data = make_data(c);
  const auto q = cast<float>(data.q);
  const auto& s = c.shape;
  // Block 0 holds keys the first queries cannot see (their rows are -inf there) and vice versa.
  const Block first = key_block(c, data, 0, 23), second = key_block(c, data, 23, 29);
  std::vector<float> out_a(s.out_size()), lse_a(s.rows()), out_b(s.out_size()), lse_b(s.rows());
  kernels::attention_forward<float>(first.params, {q, first.k, first.v, out_a, lse_a});
  kernels::attention_forward<float>(second.params, {q, second.k, second.v, out_b, lse_b});
  kernels::merge_softmax_states<float>(out_a, lse_a, out_b, lse_b, s.value_dim);
  expect_close("out", out_a, data.ref.out, 2e-4, 2e-4);
  expect_close("lse", lse_a, data.ref.lse, 2e-4, 2e-4);

  // The same through merge_into_output, second block first.
  std::vector<float> out(s.out_size(), 0.0f),
      lse(s.rows(), -std::numeric_limits<float>::infinity());
  for (const Block* b : {&second, &first}) {
    kernels::AttentionForwardBuffers<float> io{q, b->k, b->v, out, lse};
    io.merge_into_output = true;
    kernels::attention_forward<float>(b->params, io);
  }
  expect_close("out_merged_in_place", out, data.ref.out, 2e-4, 2e-4);
  expect_close("lse_merged_in_place", lse, data.ref.lse, 2e-4, 2e-4);
}

TEST(SoftmaxMerge, BackwardPerKeyBlockWithFinalLseAccumulatesDq) {
  const AttentionCase c = causal_case();
  const CaseData data = make_data(c);
  const auto& s = c.shape;
  const auto q = cast<float>(data.q), dout = cast<float>(data.dout);
  const auto lse = cast<float>(data.ref.lse), out = cast<float>(data.ref.out);
  std::vector<float> delta(s.rows());
  kernels::attention_delta<float>(dout, out, s.value_dim, delta);
  std::vector<float> dq(s.q_size(), 0.0f);
  std::vector<double> dk(s.k_size()), dv(s.v_size());
  const int64_t bounds[] = {0, 17, 35, 52};
  for (int step = 0; step < 3; ++step) {
    const int64_t k0 = bounds[step], count = bounds[step + 1] - k0;
    const Block b = key_block(c, data, k0, count);
    std::vector<float> dk_b(b.k.size()), dv_b(b.v.size());
    kernels::AttentionBackwardBuffers<float> io{q, b.k, b.v, dout, lse, delta, dq, dk_b, dv_b};
    io.accumulate_dq = true;
    kernels::attention_backward<float>(b.params, io);
    for (int64_t bh = 0; bh < s.batch * s.kv_heads; ++bh)
      for (int64_t j = 0; j < count; ++j) {
        for (int64_t x = 0; x < s.head_dim; ++x)
          dk[(bh * s.k_len + k0 + j) * s.head_dim + x] = dk_b[(bh * count + j) * s.head_dim + x];
        for (int64_t x = 0; x < s.value_dim; ++x)
          dv[(bh * s.k_len + k0 + j) * s.value_dim + x] = dv_b[(bh * count + j) * s.value_dim + x];
      }
  }
  expect_close("dq", dq, data.ref.dq, 2e-4, 2e-4);
  expect_close("dk", dk, data.ref.dk, 2e-4, 2e-4);
  expect_close("dv", dv, data.ref.dv, 2e-4, 2e-4);
}

TEST(SoftmaxMerge, AccumulateDkvAddsToWhatIsThere) {
  AttentionCase c;
  c.shape = AttentionShape{1, 2, 1, 20, 20, 8, 8};
  c.mask.causal = true;
  const CaseData data = make_data(c);
  const auto q = cast<double>(data.q);
  std::vector<double> delta(c.shape.rows());
  kernels::attention_delta<double>(data.dout, data.ref.out, c.shape.value_dim, delta);
  std::vector<double> dq(c.shape.q_size(), 1.0), dk(c.shape.k_size(), 1.0),
      dv(c.shape.v_size(), 1.0);
  kernels::AttentionBackwardBuffers<double> io{data.q, data.k, data.v, data.dout, data.ref.lse,
                                               delta, dq, dk, dv};
  io.accumulate_dq = io.accumulate_dkv = true;
  kernels::attention_backward<double>(c.params(), io);
  auto plus_one = [](std::vector<double> x) {
    for (auto& e : x) e += 1.0;
    return x;
  };
  expect_close("dq", dq, plus_one(data.ref.dq), 1e-10, 1e-10);
  expect_close("dk", dk, plus_one(data.ref.dk), 1e-10, 1e-10);
  expect_close("dv", dv, plus_one(data.ref.dv), 1e-10, 1e-10);
}

TEST(SoftmaxMerge, RowEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  // Both empty: stays empty, no NaN.
  float out[2] = {0, 0}, lse = -inf;
  const float zero[2] = {0, 0};
  kernels::merge_softmax_row(out, lse, zero, -inf, 2);
  EXPECT_EQ(lse, -inf);
  EXPECT_EQ(out[0], 0.0f);
  // Empty + state: takes the state.
  const float b[2] = {3, -4};
  kernels::merge_softmax_row(out, lse, b, 2.5f, 2);
  EXPECT_EQ(lse, 2.5f);
  EXPECT_EQ(out[1], -4.0f);
  // Huge lse values do not overflow: equal halves average and add log 2.
  float big[2] = {1, 3}, big_lse = 1000.0f;
  const float big_b[2] = {3, 5};
  kernels::merge_softmax_row(big, big_lse, big_b, 1000.0f, 2);
  EXPECT_NEAR(big_lse, 1000.0f + std::log(2.0f), 1e-3);
  EXPECT_NEAR(big[0], 2.0f, 1e-6);
  EXPECT_NEAR(big[1], 4.0f, 1e-6);
  // A state far below the other contributes nothing, without underflow trouble.
  float lo[1] = {7}, lo_lse = -1e30f;
  const float hi[1] = {1};
  kernels::merge_softmax_row(lo, lo_lse, hi, 50.0f, 1);
  EXPECT_EQ(lo_lse, 50.0f);
  EXPECT_EQ(lo[0], 1.0f);
}

TEST(SoftmaxMerge, StatesMustAgreeInSize) {
  std::vector<float> out(6), lse(3), out_b(4), lse_b(2);
  EXPECT_THROW(kernels::merge_softmax_states<float>(out, lse, out_b, lse_b, 2), UsageError);
}

}  // namespace
}  // namespace attnscale::test

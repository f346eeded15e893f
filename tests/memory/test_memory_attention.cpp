// Memory-based attention (attention/memory.h): hops against an fp64 reference written with loops,
// linear start, padding, layer-wise H, gradient checks, and errors naming the mechanism and option.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "framework/attention/memory.h"
#include "tests/memory/memory_test_util.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using attention::MemoryAttention;
using attention::MemoryAttentionOptions;
using attention::SourceMemory;
using testing::expect_gradcheck;
using testing::expect_near_all;
using testing::random_f64;

// One story's K hops by loops: m, c [K][M][D], u [D]; the first `filled` slots are real.
struct Reference {
  std::vector<double> state;
  std::vector<std::vector<double>> weights;
};

Reference reference_hops(const std::vector<std::vector<double>>& m, const std::vector<std::vector<double>>& c,
                         std::vector<double> u, int64_t slots, int64_t dim, int64_t filled, bool linear,
                         const std::vector<double>& h /* [D, D] row-major, empty = identity */) {
  Reference ref;
  for (size_t k = 0; k < m.size(); ++k) {
    std::vector<double> p(static_cast<size_t>(slots), 0.0);
    double total = 0;
    for (int64_t i = 0; i < filled; ++i) {
      double dot = 0;
      for (int64_t d = 0; d < dim; ++d) dot += u[d] * m[k][static_cast<size_t>(i * dim + d)];
      p[i] = linear ? dot : std::exp(dot);
      total += p[i];
    }
    if (!linear)
      for (auto& v : p) v /= total;
    std::vector<double> next(static_cast<size_t>(dim), 0.0);
    for (int64_t d = 0; d < dim; ++d) {
      double mapped = u[d];
      if (!h.empty()) {
        mapped = 0;
        for (int64_t e = 0; e < dim; ++e) mapped += h[static_cast<size_t>(d * dim + e)] * u[e];
      }
      double o = 0;
      for (int64_t i = 0; i < slots; ++i) o += p[i] * c[k][static_cast<size_t>(i * dim + d)];
      next[d] = mapped + o;
    }
    u = next;
    ref.weights.push_back(p);
  }
  ref.state = u;
  return ref;
}

std::vector<double> values(const Tensor& t) { return t.detach().contiguous().to_vector<double>(); }

// Slices story b of a [B, M, D] tensor.
std::vector<double> story_of(const Tensor& t, int64_t b) {
  const auto all = values(t);
  const int64_t per = t.shape()[1] * t.shape()[2];
  return {all.begin() + b * per, all.begin() + (b + 1) * per};
}

void check_against_reference(bool query_map, bool linear) {
  constexpr int64_t batch = 2, slots = 4, dim = 3, hops = 3;
  Generator gen(5);
  MemoryAttention attention(MemoryAttentionOptions{dim, hops, query_map}, gen, DType::f64);
  const Tensor lengths = testing::i64({4, 2}, {batch});
  std::vector<Tensor> ms, cs;
  std::vector<SourceMemory> memories;
  for (int64_t k = 0; k < hops; ++k) {
    ms.push_back(random_f64({batch, slots, dim}, 10 + static_cast<uint64_t>(k), false));
    cs.push_back(random_f64({batch, slots, dim}, 20 + static_cast<uint64_t>(k), false));
    memories.push_back(attention.hop_memory(ms.back(), cs.back(), lengths));
  }
  const Tensor u = random_f64({batch, dim}, 3, false);
  const auto out = attention.read(u, memories, linear);
  std::vector<double> h;
  if (query_map) h = values(attention.named_parameters().front().tensor);
  const auto lens = lengths.to_vector<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::vector<double>> m, c;
    for (int64_t k = 0; k < hops; ++k) m.push_back(story_of(ms[k], b)), c.push_back(story_of(cs[k], b));
    const auto ub = values(u);
    const Reference ref = reference_hops(m, c, {ub.begin() + b * dim, ub.begin() + (b + 1) * dim}, slots, dim,
                                         lens[static_cast<size_t>(b)], linear, h);
    const auto state = values(out.state);
    for (int64_t d = 0; d < dim; ++d) EXPECT_NEAR(state[b * dim + d], ref.state[d], 1e-12) << "story " << b;
    for (int64_t k = 0; k < hops; ++k) {
      const auto w = values(out.weights[static_cast<size_t>(k)]);
      for (int64_t i = 0; i < slots; ++i)
        EXPECT_NEAR(w[b * slots + i], ref.weights[k][i], 1e-12) << "story " << b << " hop " << k << " slot " << i;
    }
  }
}

TEST(MemoryAttention, AdjacentHopsMatchLoops) { check_against_reference(false, false); }
TEST(MemoryAttention, LayerwiseHopsApplyH) { check_against_reference(true, false); }
TEST(MemoryAttention, LinearStartRemovesTheSoftmax) { check_against_reference(false, true); }

TEST(MemoryAttention, OneHopOneSlotIsQueryPlusOutputMemory) {
  // Closed form: one slot takes all the weight, so u^2 = u + c_1 whatever m_1 is.
  Generator gen(0);
  MemoryAttention attention(MemoryAttentionOptions{2, 1, false}, gen, DType::f64);
  const Tensor m = testing::f64({5, -7}, {1, 1, 2}), c = testing::f64({0.25, 2}, {1, 1, 2});
  const std::vector<SourceMemory> hops = {attention.hop_memory(m, c, {})};
  const auto out = attention.read(testing::f64({1, 3}, {1, 2}), hops, false);
  expect_near_all(out.state, {1.25, 5}, 1e-15, "u^2");
  expect_near_all(out.weights[0], {1}, 1e-15, "p");
  // Linear start: p = u . m = 5 - 21 = -16, o = -16 c.
  const auto linear = attention.read(testing::f64({1, 3}, {1, 2}), hops, true);
  expect_near_all(linear.state, {1 - 16 * 0.25, 3 - 16 * 2}, 1e-13, "u^2 (linear)");
}

TEST(MemoryAttention, PaddedSlotsAreNeverRead) {
  Generator gen(1);
  MemoryAttention attention(MemoryAttentionOptions{3, 2, false}, gen, DType::f64);
  const Tensor m = random_f64({1, 4, 3}, 1, false), c = random_f64({1, 4, 3}, 2, false);
  const Tensor lengths = testing::i64({2}, {1});
  Tensor m2 = m.clone(), c2 = c.clone();
  narrow(m2, 1, 2, 2).copy_(Tensor::full({1, 2, 3}, 50.0, DType::f64));
  narrow(c2, 1, 2, 2).copy_(Tensor::full({1, 2, 3}, -9.0, DType::f64));
  const Tensor u = random_f64({1, 3}, 3, false);
  for (bool linear : {false, true}) {
    const std::vector<SourceMemory> a = {attention.hop_memory(m, c, lengths), attention.hop_memory(m, c, lengths)};
    const std::vector<SourceMemory> b = {attention.hop_memory(m2, c2, lengths), attention.hop_memory(m2, c2, lengths)};
    expect_near_all(attention.read(u, b, linear).state, values(attention.read(u, a, linear).state), 0.0, "state");
  }
}

// Gradients of the final state and every hop's weights with respect to u, m, c and H.
void gradcheck_hops(bool query_map, bool linear) {
  Generator gen(2);
  MemoryAttention attention(MemoryAttentionOptions{3, 2, query_map}, gen, DType::f64);
  const Tensor lengths = testing::i64({3, 2}, {2});
  std::vector<Tensor> inputs = {random_f64({2, 3}, 1)};
  for (uint64_t s = 0; s < 4; ++s)
    inputs.push_back(mul(random_f64({2, 3, 3}, 10 + s, false), 0.5).detach().set_requires_grad());
  expect_gradcheck(attention, inputs, [&](const std::vector<Tensor>& in) {
    const std::vector<SourceMemory> hops = {attention.hop_memory(in[1], in[2], lengths),
                                            attention.hop_memory(in[3], in[4], lengths)};
    const auto out = attention.read(in[0], hops, linear);
    return concat({reshape(out.state, {-1}), reshape(out.weights[0], {-1}), reshape(out.weights[1], {-1})}, 0);
  });
}

TEST(MemoryAttention, GradcheckAdjacent) { gradcheck_hops(false, false); }
TEST(MemoryAttention, GradcheckLayerwise) { gradcheck_hops(true, false); }
TEST(MemoryAttention, GradcheckLinearStart) { gradcheck_hops(true, true); }

TEST(MemoryAttention, BadShapesAndOptionsNameTheMechanismAndOption) {
  Generator gen(0);
  const auto bad_hops = testing::error_message([&] { MemoryAttention(MemoryAttentionOptions{4, 0, false}, gen); });
  EXPECT_NE(bad_hops.find("[memory] option hops"), std::string::npos) << bad_hops;
  const auto bad_dim = testing::error_message([&] { MemoryAttention(MemoryAttentionOptions{0, 1, false}, gen); });
  EXPECT_NE(bad_dim.find("[memory] option dim"), std::string::npos) << bad_dim;

  MemoryAttention attention(MemoryAttentionOptions{4, 2, false}, gen, DType::f64);
  const Tensor good = Tensor::zeros({2, 3, 4}, DType::f64);
  const auto wrong_width = testing::error_message([&] {
    attention.hop_memory(Tensor::zeros({2, 3, 5}, DType::f64), good, {});
  });
  EXPECT_NE(wrong_width.find("[memory] input memory must be [B, M, 4] (option dim)"), std::string::npos) << wrong_width;
  const auto mismatch = testing::error_message([&] {
    attention.hop_memory(good, Tensor::zeros({2, 2, 4}, DType::f64), {});
  });
  EXPECT_NE(mismatch.find("[memory] input memory"), std::string::npos) << mismatch;
  const auto bad_length = testing::error_message([&] { attention.hop_memory(good, good, testing::i64({4, 1}, {2})); });
  EXPECT_NE(bad_length.find("[memory]"), std::string::npos) << bad_length;
  const std::vector<SourceMemory> one = {attention.hop_memory(good, good, {})};
  const auto few_hops = testing::error_message([&] { attention.read(Tensor::zeros({2, 4}, DType::f64), one, false); });
  EXPECT_NE(few_hops.find("[memory] option hops is 2 but 1 hop memories"), std::string::npos) << few_hops;
  const std::vector<SourceMemory> two = {one[0], one[0]};
  const auto bad_query = testing::error_message([&] { attention.read(Tensor::zeros({2, 3}, DType::f64), two, false); });
  EXPECT_NE(bad_query.find("[memory] query must be [B, 4] (option dim)"), std::string::npos) << bad_query;
}

}  // namespace
}  // namespace attnscale

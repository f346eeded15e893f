// Indexing, joining and selection ops: values against hand-computed results, fp64 gradchecks, and
// the errors a caller sees.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"
#include "tests/ops/ops_test_util.h"

namespace attnscale {
namespace {

using test::expect_gradcheck;
using test::expect_usage_error;
using test::ids;
using test::input;

Tensor values(const std::vector<double>& v, const Shape& shape) { return Tensor::from(v, shape); }

// ---- gather / scatter_add ----

TEST(Gather, PicksAlongEitherAxis) {
  const Tensor x = values({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(gather(x, 1, ids({2, 0, 1, 1}, {2, 2})).to_vector<double>(), (std::vector<double>{3, 1, 5, 5}));
  EXPECT_EQ(gather(x, 0, ids({1, 0, 1}, {1, 3})).to_vector<double>(), (std::vector<double>{4, 2, 6}));
  EXPECT_EQ(gather(x, -1, ids({2, 0, 1, 1}, {2, 2})).shape(), (Shape{2, 2}));
}

TEST(Gather, ReadsStridedInput) {
  const Tensor x = transpose(values({1, 2, 3, 4, 5, 6}, {2, 3}), 0, 1);  // [[1, 4], [2, 5], [3, 6]]
  EXPECT_EQ(gather(x, 1, ids({1, 0, 0}, {3, 1})).to_vector<double>(), (std::vector<double>{4, 2, 3}));
}

TEST(ScatterAdd, AccumulatesRepeatedIndices) {
  const Tensor x = values({1, 1, 1, 1, 1, 1}, {2, 3});
  const Tensor out = scatter_add(x, 1, ids({0, 0, 2, 1}, {2, 2}), values({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{4, 1, 1, 1, 5, 4}));
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>(6, 1.0))) << "scatter_add must not modify its input";
}

TEST(Gradcheck, GatherAndScatterAdd) {
  const Tensor index = ids({0, 2, 2, 1, 0, 0, 1, 2, 2, 0, 1, 1}, {2, 2, 3});  // repeats on purpose
  expect_gradcheck([&](const auto& x) { return gather(x[0], 1, index); }, {input({2, 3, 3}, 1)});
  expect_gradcheck([&](const auto& x) { return gather(x[0], 0, ids({1, 0, 1, 1}, {2, 2})); }, {input({3, 2}, 2)});
  expect_gradcheck([&](const auto& x) { return scatter_add(x[0], 1, index, x[1]); },
                   {input({2, 3, 3}, 3), input({2, 2, 3}, 4)});
}

// ---- index_select / embedding ----

TEST(IndexSelect, PicksWholeSlices) {
  const Tensor x = values({1, 2, 3, 4, 5, 6}, {3, 2});
  EXPECT_EQ(index_select(x, 0, ids({2, 0, 2}, {3})).to_vector<double>(), (std::vector<double>{5, 6, 1, 2, 5, 6}));
  const Tensor y = values({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor picked = index_select(y, 1, ids({2, 0}, {2}));
  EXPECT_EQ(picked.shape(), (Shape{2, 2}));
  EXPECT_EQ(picked.to_vector<double>(), (std::vector<double>{3, 1, 6, 4}));
}

TEST(Embedding, LooksUpRowsForAnyIdShape) {
  const Tensor weight = values({0, 1, 10, 11, 20, 21}, {3, 2});
  const Tensor out = embedding(weight, ids({2, 0, 1, 2}, {2, 2}));
  EXPECT_EQ(out.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{20, 21, 0, 1, 10, 11, 20, 21}));
}

TEST(Embedding, GradientAddsRowsOfRepeatedIds) {
  Tensor weight = Tensor::zeros({4, 3}, DType::f32).set_requires_grad();
  sum(embedding(weight, ids({1, 3, 1, 1}, {4}))).backward();
  EXPECT_EQ(weight.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 3, 3, 3, 0, 0, 0, 1, 1, 1}));
}

TEST(Gradcheck, IndexSelectAndEmbedding) {
  expect_gradcheck([](const auto& x) { return index_select(x[0], 1, ids({3, 0, 3, 1}, {4})); }, {input({2, 4, 3}, 5)});
  expect_gradcheck([](const auto& x) { return embedding(x[0], ids({4, 1, 4, 0, 2, 4}, {2, 3})); }, {input({5, 3}, 6)});
}

// ---- concat / stack / split ----

TEST(Concat, JoinsAlongAnAxisWithMixedLayouts) {
  const Tensor a = values({1, 2, 3, 4}, {2, 2});
  const Tensor b = transpose(values({5, 6, 7, 8, 9, 10}, {3, 2}), 0, 1);  // [[5, 7, 9], [6, 8, 10]]
  const Tensor c = concat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{1, 2, 5, 7, 9, 3, 4, 6, 8, 10}));
  EXPECT_EQ(concat({a, a}, 0).to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4}));
}

TEST(Concat, JoinsIntegerTensors) {
  const Tensor joined = concat({ids({1, 2}, {2}), ids({3}, {1})}, 0);
  EXPECT_EQ(joined.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(Stack, AddsANewAxis) {
  const Tensor a = values({1, 2, 3}, {3}), b = values({4, 5, 6}, {3});
  EXPECT_EQ(stack({a, b}, 0).shape(), (Shape{2, 3}));
  const Tensor last = stack({a, b}, -1);
  EXPECT_EQ(last.shape(), (Shape{3, 2}));
  EXPECT_EQ(last.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(Split, ReturnsViewsByChunkSizeOrSizes) {
  const Tensor x = values({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2});
  const auto chunks = split(x, 2, 0);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[2].shape(), (Shape{1, 2}));
  EXPECT_EQ(chunks[1].to_vector<double>(), (std::vector<double>{4, 5, 6, 7}));
  EXPECT_EQ(chunks[1].storage(), x.storage()) << "split must return views";
  const auto pieces = split(x, std::vector<int64_t>{1, 4}, 0);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[1].shape(), (Shape{4, 2}));
  const auto columns = split(x, std::vector<int64_t>{1, 1}, 1);
  EXPECT_EQ(columns[1].to_vector<double>(), (std::vector<double>{1, 3, 5, 7, 9}));
}

TEST(Gradcheck, ConcatStackSplit) {
  expect_gradcheck([](const auto& x) { return concat({x[0], transpose(x[1], 0, 1), x[2]}, 1); },
                   {input({2, 3}, 7), input({1, 2}, 8), input({2, 2}, 9)});
  expect_gradcheck([](const auto& x) { return stack({x[0], x[1]}, 1); }, {input({2, 3}, 10), input({2, 3}, 11)});
  expect_gradcheck(
      [](const auto& x) {
        const auto p = split(x[0], std::vector<int64_t>{1, 3, 1}, 1);
        return concat({exp(p[2]), mul(p[0], 3.0), p[1]}, 1);  // reordered, so the pieces' gradients differ
      },
      {input({2, 5}, 12)});
  expect_gradcheck([](const auto& x) { return mul(split(x[0], 2, 0)[1], 2.0); }, {input({5, 2}, 13)});
}

// ---- where / masked_fill ----

TEST(Where, BroadcastsAllThreeOperands) {
  const Tensor cond = ids({1, 0, 2}, {3});  // any nonzero is true
  const Tensor a = values({1, 2}, {2, 1});
  const Tensor b = Tensor::scalar(-1.0, DType::f64);
  const Tensor out = where(cond, a, b);
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{1, -1, 1, 2, -1, 2}));
}

TEST(Where, FloatConditionTreatsNanAsTrue) {
  const Tensor cond = Tensor::from(std::vector<float>{0.0f, std::nanf(""), -0.5f}, {3});
  const Tensor out = where(cond, values({1, 1, 1}, {3}), values({0, 0, 0}, {3}));
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{0, 1, 1}));
}

TEST(MaskedFill, FillsWhereMaskIsSet) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor x = values({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor causal = ids({0, 1, 1}, {1, 3});  // broadcast over rows
  EXPECT_EQ(masked_fill(x, causal, -inf).to_vector<double>(), (std::vector<double>{1, -inf, -inf, 4, -inf, -inf}));
}

TEST(Gradcheck, WhereAndMaskedFill) {
  const Tensor cond = ids({1, 0, 0, 1, 1, 0}, {2, 3});
  expect_gradcheck([&](const auto& x) { return where(cond, x[0], x[1]); }, {input({2, 3}, 14), input({3}, 15)});
  expect_gradcheck([&](const auto& x) { return where(cond, x[0], x[1]); }, {input({2, 1}, 16), input({2, 3}, 17)});
  expect_gradcheck([&](const auto& x) { return masked_fill(x[0], cond, 5.0); }, {input({2, 3}, 18)});
}

// ---- errors ----

TEST(IndexingErrors, OutOfRangeIndicesNameIndexAndAxis) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_usage_error([&] { gather(x, 1, ids({0, 3}, {2, 1})); }, {"[gather]", "index 3", "position 1", "size 3"});
  expect_usage_error([&] { index_select(x, 0, ids({-1}, {1})); }, {"[index_select]", "index -1", "size 2"});
  expect_usage_error([&] { scatter_add(x, 0, ids({0, 0, 5}, {1, 3}), Tensor::zeros({1, 3})); },
                     {"[scatter_add]", "index 5", "size 2"});
}

TEST(IndexingErrors, EmbeddingNamesIdAndVocabulary) {
  const Tensor weight = Tensor::zeros({50, 8});
  expect_usage_error([&] { embedding(weight, ids({3, 57, 2}, {3})); }, {"[embedding]", "id 57", "position 1", "50"});
  expect_usage_error([&] { embedding(weight, Tensor::zeros({3})); }, {"[embedding]", "int64", "float32"});
  expect_usage_error([&] { embedding(Tensor::zeros({50}), ids({1}, {1})); }, {"[embedding]", "[50]"});
}

TEST(IndexingErrors, ShapeMismatchesNameBothShapes) {
  expect_usage_error([] { gather(Tensor::zeros({2, 3}), 1, ids({0, 0, 0}, {3, 1})); }, {"[gather]", "[3, 1]", "[2, 3]"});
  expect_usage_error([] { concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1); },
                     {"[concat]", "[3, 3]", "[2, 3]", "axis 1"});
  expect_usage_error([] { concat({Tensor::zeros({2}), Tensor::zeros({2}, DType::f64)}, 0); },
                     {"[concat]", "float64", "float32"});
  expect_usage_error([] { stack({Tensor::zeros({2}), Tensor::zeros({3})}, 0); }, {"[stack]", "[3]", "[2]"});
  expect_usage_error([] { split(Tensor::zeros({6}), std::vector<int64_t>{2, 3}, 0); }, {"[split]", "[2, 3]", "6"});
  expect_usage_error([] { split(Tensor::zeros({6}), 0, 0); }, {"[split]", "positive"});
  expect_usage_error([] { where(Tensor::zeros({4}), Tensor::zeros({2, 3}), Tensor::zeros({3})); },
                     {"[where]", "[4]", "[2, 3]", "[3]"});
  expect_usage_error([] { masked_fill(Tensor::zeros({3}), Tensor::zeros({2, 3}), 0.0); },
                     {"[masked_fill]", "[2, 3]", "[3]"});
}

}  // namespace
}  // namespace attnscale

// Tensor::to, clone and contiguous: values, storage ownership and gradients.
#include <gtest/gtest.h>

#include <array>
#include <numeric>

#include "framework/core/ops/ops.h"
#include "tests/ops/ops_test_util.h"

namespace attnscale {
namespace {

using test::expect_gradcheck;
using test::input;

TEST(To, ConvertsBetweenEveryDtype) {
  const Tensor x = Tensor::from(std::vector<double>{-1.75, 0.5, 2.25, 3e9}, {2, 2});
  EXPECT_EQ(x.to(DType::f32).dtype(), DType::f32);
  EXPECT_EQ(x.to(DType::f32).to_vector<float>(), (std::vector<float>{-1.75f, 0.5f, 2.25f, 3e9f}));
  EXPECT_EQ(x.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2, 3'000'000'000}));  // toward 0
  const Tensor i = Tensor::from(std::vector<int64_t>{-3, 7}, {2});
  EXPECT_EQ(i.to(DType::f64).to_vector<double>(), (std::vector<double>{-3, 7}));
  EXPECT_TRUE(x.to(DType::f64).same(x)) << "converting to the same dtype returns the tensor itself";
}

TEST(To, ConvertsStridedViewsInLogicalOrder) {
  const Tensor x = transpose(Tensor::from(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}), 0, 1);
  EXPECT_EQ(x.to(DType::f32).to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(To, GradientFlowsBackInTheSourceDtype) {
  Tensor x = input({3}, 1);
  const Tensor w = Tensor::from(std::vector<float>{1, -2, 0.5f}, {3});
  sum(mul(x.to(DType::f32), w)).backward();
  ASSERT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, -2, 0.5}));
  EXPECT_FALSE(x.to(DType::i64).requires_grad()) << "integer results carry no gradient";
}

TEST(Clone, OwnsItsStorage) {
  Tensor x = Tensor::from(std::vector<double>{1, 2, 3}, {3});
  Tensor c = x.clone();
  EXPECT_NE(c.storage(), x.storage());
  c.fill_(0.0);
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{1, 2, 3}));
}

TEST(Contiguous, CopiesEveryPermutationInLogicalOrder) {
  const Shape shape{2, 3, 4};
  const Tensor x = Tensor::arange(24, DType::f64);
  const Tensor base = reshape(x, shape);
  std::array<int, 3> axes{0, 1, 2};
  do {
    const Tensor p = permute(base, {axes[0], axes[1], axes[2]});
    const Tensor c = p.contiguous();
    ASSERT_TRUE(c.is_contiguous());
    const auto got = c.to_vector<double>();
    // Element (i, j, k) of the permuted view is base[idx] with idx[axes[d]] = (i, j, k)[d].
    int64_t at = 0;
    for (int64_t i = 0; i < p.shape()[0]; ++i)
      for (int64_t j = 0; j < p.shape()[1]; ++j)
        for (int64_t k = 0; k < p.shape()[2]; ++k, ++at) {
          std::array<int64_t, 3> idx{};
          idx[axes[0]] = i, idx[axes[1]] = j, idx[axes[2]] = k;
          EXPECT_EQ(got[at], static_cast<double>((idx[0] * 3 + idx[1]) * 4 + idx[2])) << "permutation " << axes[0]
                                                                                      << axes[1] << axes[2];
        }
  } while (std::next_permutation(axes.begin(), axes.end()));
}

TEST(Contiguous, CopiesNarrowedTransposedAndExpandedViews) {
  const Tensor x = reshape(Tensor::arange(12, DType::f64), {3, 4});
  const Tensor v = narrow(transpose(x, 0, 1), 0, 1, 2);  // rows 1..2 of x^T: [[1, 5, 9], [2, 6, 10]]
  EXPECT_EQ(v.contiguous().to_vector<double>(), (std::vector<double>{1, 5, 9, 2, 6, 10}));
  const Tensor e = expand(narrow(x, 1, 2, 1), {3, 2});  // column 2 repeated: [[2, 2], [6, 6], [10, 10]]
  EXPECT_EQ(e.contiguous().to_vector<double>(), (std::vector<double>{2, 2, 6, 6, 10, 10}));
  EXPECT_TRUE(x.contiguous().same(x)) << "a contiguous tensor is returned as is";
}

TEST(Contiguous, LargeTransposeMatchesElementwiseReference) {
  // Big enough for the tiled and multi-threaded copy paths; odd sizes leave partial tiles.
  const int64_t rows = 301, cols = 517;
  const Tensor x = reshape(Tensor::arange(rows * cols, DType::f32), {rows, cols});
  const auto got = transpose(x, 0, 1).contiguous().to_vector<float>();
  bool all_equal = true;
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) all_equal &= got[j * rows + i] == static_cast<float>(i * cols + j);
  EXPECT_TRUE(all_equal);
  const Tensor batched = reshape(Tensor::arange(3 * 67 * 45, DType::f64), {3, 67, 45});
  const auto bt = transpose(batched, 1, 2).contiguous().to_vector<double>();
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t j = 0; j < 45; ++j)
      for (int64_t i = 0; i < 67; ++i) all_equal &= bt[(b * 45 + j) * 67 + i] == static_cast<double>((b * 67 + i) * 45 + j);
  EXPECT_TRUE(all_equal);
}

TEST(Gradcheck, CloneContiguousAndTo) {
  expect_gradcheck([](const auto& x) { return permute(x[0], {2, 0, 1}).contiguous(); }, {input({2, 3, 4}, 2)});
  expect_gradcheck([](const auto& x) { return mul(transpose(x[0], 0, 1).clone(), x[0]); }, {input({3, 3}, 3)});
  // Tensor::to between float types is checked exactly above: a round trip through float32 is too
  // coarse for finite differences at 1e-6.
}

}  // namespace
}  // namespace attnscale

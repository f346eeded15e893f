// The checkers themselves: gradcheck must fail on a wrong backward (or every gradcheck test could
// be passing vacuously), and Philox must reproduce the published known-answer vectors.
#include <gtest/gtest.h>

#include "framework/core/autograd/gradcheck.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/random.h"
#include "kernels/philox.h"
#include "tests/ops/ops_test_util.h"

namespace attnscale {
namespace {

// x^2 computed without autograd, recorded with the backward `factor * g * x` (right when factor = 2).
Tensor square_with_backward(const Tensor& x, double factor) {
  Tensor out;
  {
    autograd::NoGradGuard no_grad;
    out = mul(x, x);
  }
  const Tensor saved = x.detach();
  return autograd::record(out, "square_for_test", {x}, [saved, factor](const Tensor& g) {
    return std::vector<Tensor>{mul(mul(g, saved), factor)};
  });
}

TEST(GradcheckSelf, FailsOnAWrongBackward) {
  const auto wrong = autograd::gradcheck([](const auto& x) { return square_with_backward(x[0], 1.0); },
                                         {test::input({3, 4}, 1, 0.5, 1.5)});
  EXPECT_FALSE(wrong.ok) << wrong.report;
  EXPECT_GT(wrong.max_rel_error, 0.1);
  EXPECT_NE(wrong.report.find("input 0"), std::string::npos) << wrong.report;
}

TEST(GradcheckSelf, FailsOnASlightlyWrongBackward) {
  const auto off = autograd::gradcheck([](const auto& x) { return square_with_backward(x[0], 2.0 + 1e-4); },
                                       {test::input({5}, 2, 0.5, 1.5)});
  EXPECT_FALSE(off.ok) << off.report;
}

TEST(GradcheckSelf, PassesTheSameOpWithTheRightBackward) {
  const auto right = autograd::gradcheck([](const auto& x) { return square_with_backward(x[0], 2.0); },
                                         {test::input({3, 4}, 1, 0.5, 1.5)});
  EXPECT_TRUE(right.ok) << right.report;
}

TEST(GradcheckSelf, FailsWhenTheBackwardForgetsAnInput) {
  const auto missing = autograd::gradcheck(
      [](const auto& x) {
        Tensor out;
        {
          autograd::NoGradGuard no_grad;
          out = add(x[0], x[1]);
        }
        return autograd::record(out, "add_for_test", {x[0], x[1]},
                                [](const Tensor& g) { return std::vector<Tensor>{g, Tensor()}; });
      },
      {test::input({3}, 3), test::input({3}, 4)});
  EXPECT_FALSE(missing.ok) << missing.report;
}

// Random123's kat_vectors for philox4x32 with 10 rounds: counter, key, expected output.
TEST(Philox, MatchesPublishedKnownAnswers) {
  struct Case {
    std::array<uint32_t, 4> counter;
    std::array<uint32_t, 2> key;
    std::array<uint32_t, 4> expected;
  };
  const Case cases[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Case& c : cases) EXPECT_EQ(philox4x32(c.counter, c.key), c.expected);
}

TEST(Philox, LaneParallelBlocksMatchSingleBlocks) {
  const uint64_t seed = 0x0123456789abcdefULL;
  const uint64_t first = (uint64_t{1} << 32) - 5;  // lanes cross into the counter's high word
  uint32_t words[4][16];
  kernels::philox_blocks<16>(seed, first, words);
  for (int l = 0; l < 16; ++l) {
    const auto single = kernels::philox_block(seed, first + l);
    for (int q = 0; q < 4; ++q) EXPECT_EQ(words[q][l], single[q]) << "lane " << l << " word " << q;
  }
}

}  // namespace
}  // namespace attnscale

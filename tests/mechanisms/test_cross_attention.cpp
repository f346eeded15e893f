// Cross-attention: gradcheck, padded memory is never read, one memory token gives its projected value.
#include <gtest/gtest.h>

#include "framework/attention/cross_attention.h"
#include "framework/core/ops/ops.h"
#include "mechanism_test_util.h"

namespace attnscale {
namespace {

using test::input;
using test::max_abs_diff;

TEST(CrossAttention, GradcheckWithPaddingAndGroupedHeads) {
  for (const bool fused : {true, false}) {
    Generator gen(1);
    attention::CrossAttention cross({8, 6, 4, 2, fused, 0.0}, gen, DType::f64);
    const std::vector<int32_t> valid{1, 1, 1, 0, 1, 1, 0, 0};
    test::expect_module_gradcheck(cross, {input({2, 3, 8}, 2), input({2, 4, 6}, 3)},
                                  [&](const std::vector<Tensor>& in) { return cross.forward(in[0], in[1], valid); });
  }
}

TEST(CrossAttention, PaddedMemoryIsNeverReadAndOneTokenGivesItsValue) {
  Generator gen(4);
  attention::CrossAttention cross({8, 6, 2, 0, true, 0.0}, gen, DType::f64);
  const Tensor x = input({1, 3, 8}, 5).detach();
  Tensor memory = input({1, 3, 6}, 6).detach();
  const std::vector<int32_t> first_only{1, 0, 0};
  const Tensor before = cross.forward(x, memory, first_only);
  memory.data<double>()[6 + 2] += 5.0;  // a padded token changes
  EXPECT_LT(max_abs_diff(before, cross.forward(x, memory, first_only)), 1e-15);
  // With a single real memory token every query reads exactly its value: o_proj(v_proj(m0)).
  const auto params = cross.named_parameters();  // q, k, v, o weights
  const Tensor m0 = narrow(memory, 1, 0, 1);
  const Tensor value = matmul(matmul(m0, transpose(params[2].tensor, 0, 1)), transpose(params[3].tensor, 0, 1));
  EXPECT_LT(max_abs_diff(before, expand(value, {1, 3, 8})), 1e-12);
}

TEST(CrossAttention, BadShapesNameTheMechanism) {
  Generator gen(7);
  test::expect_error([&] { attention::CrossAttention({8, 6, 3, 0, true, 0.0}, gen); }, {"[cross_attention]", "heads"});
  attention::CrossAttention cross({8, 6, 2, 0, true, 0.0}, gen);
  test::expect_error([&] { cross.forward(Tensor::zeros({1, 2, 8}), Tensor::zeros({1, 4, 8})); },
                     {"[cross_attention]", "memory must be [1, M, 6]"});
  test::expect_error([&] { cross.forward(Tensor::zeros({1, 2, 8}), Tensor::zeros({1, 4, 6}), std::vector<int32_t>{1, 1}); },
                     {"[cross_attention]", "memory_valid"});
}

}  // namespace
}  // namespace attnscale

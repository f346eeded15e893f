// GRU against a scalar fp64 reference written from the equations (PyTorch's gate order and packed-
// sequence semantics), gradient checks, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "framework/nn/gru.h"
#include "framework/core/ops/ops.h"
#include "tests/seq2seq/seq2seq_test_util.h"

namespace attnscale {
namespace {

using testing::expect_gradcheck;
using testing::expect_near_all;
using testing::random_f64;

using Vec = std::vector<double>;

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct CellParams {
  Vec w_ih, w_hh, b_ih, b_hh;  // row-major [3H, in], [3H, H], [3H], [3H]
};

CellParams cell_params(const nn::Module& m, const std::string& prefix) {
  std::map<std::string, Vec> by_name;
  for (const auto& p : m.named_parameters()) by_name[p.name] = p.tensor.to_vector<double>();
  return {by_name.at(prefix + "weight_ih"), by_name.at(prefix + "weight_hh"), by_name.at(prefix + "bias_ih"),
          by_name.at(prefix + "bias_hh")};
}

// One step of the GRU equations for one sequence.
Vec cell_ref(const CellParams& p, const Vec& x, const Vec& h) {
  const size_t hs = h.size(), in = x.size();
  auto gate = [&](size_t row, bool from_input) {
    double v = from_input ? p.b_ih[row] : p.b_hh[row];
    if (from_input)
      for (size_t i = 0; i < in; ++i) v += p.w_ih[row * in + i] * x[i];
    else
      for (size_t i = 0; i < hs; ++i) v += p.w_hh[row * hs + i] * h[i];
    return v;
  };
  Vec out(hs);
  for (size_t j = 0; j < hs; ++j) {
    const double r = sigmoid_ref(gate(j, true) + gate(j, false));
    const double z = sigmoid_ref(gate(hs + j, true) + gate(hs + j, false));
    const double n = std::tanh(gate(2 * hs + j, true) + r * gate(2 * hs + j, false));
    out[j] = (1 - z) * n + z * h[j];
  }
  return out;
}

// The whole GRU on one sequence of `len` steps (what PyTorch computes for a packed sequence):
// returns outputs [len][H * dirs] and final states [layers * dirs][H].
std::pair<std::vector<Vec>, std::vector<Vec>> gru_ref(const nn::GRU& gru, const std::vector<Vec>& xs,
                                                      const std::vector<Vec>& initial) {
  const auto& o = gru.options();
  std::vector<Vec> layer_in = xs, finals;
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    std::vector<Vec> layer_out(xs.size());
    for (int64_t dir = 0; dir < gru.directions(); ++dir) {
      const CellParams p = cell_params(gru, "layers." + std::to_string(layer) + (dir ? ".backward." : ".forward."));
      Vec h = initial[static_cast<size_t>(layer * gru.directions() + dir)];
      for (size_t i = 0; i < xs.size(); ++i) {
        const size_t t = dir ? xs.size() - 1 - i : i;
        h = cell_ref(p, layer_in[t], h);
        layer_out[t].insert(layer_out[t].end(), h.begin(), h.end());
      }
      finals.push_back(h);
    }
    layer_in = layer_out;
  }
  return {layer_in, finals};
}

void expect_matches_reference(const nn::GRUOptions& options, const std::vector<int64_t>& lengths, bool with_initial) {
  Generator gen(11);
  nn::GRU gru(options, gen, DType::f64);
  const int64_t batch = static_cast<int64_t>(lengths.size()), steps = 4, hs = options.hidden_size;
  const int64_t states = options.num_layers * gru.directions();
  const Tensor x = random_f64({batch, steps, options.input_size}, 12, false);
  const Tensor h0 = with_initial ? random_f64({states, batch, hs}, 13, false) : Tensor();
  const nn::GRUOutput out = gru.forward(x, testing::i64(lengths, {batch}), h0);
  ASSERT_EQ(out.outputs.shape(), Shape({batch, steps, gru.output_size()}));
  ASSERT_EQ(out.final_states.shape(), Shape({states, batch, hs}));
  const auto xv = x.to_vector<double>(), ov = out.outputs.to_vector<double>(),
             fv = out.final_states.to_vector<double>();
  const auto h0v = with_initial ? h0.to_vector<double>() : Vec(static_cast<size_t>(states * batch * hs), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lengths[static_cast<size_t>(b)];
    std::vector<Vec> xs;
    for (int64_t t = 0; t < len; ++t) {
      const auto at = xv.begin() + (b * steps + t) * options.input_size;
      xs.emplace_back(at, at + options.input_size);
    }
    std::vector<Vec> initial;
    for (int64_t s = 0; s < states; ++s) {
      const auto at = h0v.begin() + (s * batch + b) * hs;
      initial.emplace_back(at, at + hs);
    }
    const auto [ref_out, ref_final] = gru_ref(gru, xs, initial);
    const int64_t width = gru.output_size();
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t j = 0; j < width; ++j) {
        const double expected = t < len ? ref_out[static_cast<size_t>(t)][static_cast<size_t>(j)] : 0.0;
        EXPECT_NEAR(ov[static_cast<size_t>((b * steps + t) * width + j)], expected, 1e-12)
            << "output b=" << b << " t=" << t << " j=" << j;
      }
    for (int64_t s = 0; s < states; ++s)
      for (int64_t j = 0; j < hs; ++j)
        EXPECT_NEAR(fv[static_cast<size_t>((s * batch + b) * hs + j)],
                    ref_final[static_cast<size_t>(s)][static_cast<size_t>(j)], 1e-12)
            << "final state " << s << " b=" << b << " j=" << j;
  }
}

TEST(GRU, CellMatchesEquations) {
  Generator gen(3);
  nn::GRUCell cell(3, 2, gen, DType::f64);
  const Tensor x = random_f64({2, 3}, 4, false), h = random_f64({2, 2}, 5, false);
  const Tensor out = cell.forward(x, h);
  const CellParams p = cell_params(cell, "");
  const auto xv = x.to_vector<double>(), hv = h.to_vector<double>();
  Vec expected;
  for (size_t b = 0; b < 2; ++b) {
    const Vec row =
        cell_ref(p, Vec(xv.begin() + 3 * b, xv.begin() + 3 * b + 3), Vec(hv.begin() + 2 * b, hv.begin() + 2 * b + 2));
    expected.insert(expected.end(), row.begin(), row.end());
  }
  expect_near_all(out, expected, 1e-14, "cell output");
}

TEST(GRU, UnidirectionalPaddedMatchesReference) { expect_matches_reference({2, 3, 1, false}, {4, 2, 1}, false); }
TEST(GRU, BidirectionalPaddedMatchesReference) { expect_matches_reference({2, 3, 1, true}, {4, 2, 1}, false); }
TEST(GRU, TwoLayerBidirectionalWithInitialStates) { expect_matches_reference({2, 3, 2, true}, {3, 4, 1}, true); }
TEST(GRU, FullLengthsTakeTheUnmaskedPath) { expect_matches_reference({2, 3, 2, false}, {4, 4}, true); }

TEST(GRU, ParameterNamesFollowLayersAndDirections) {
  Generator gen(1);
  nn::GRU gru({2, 3, 2, true}, gen);
  std::vector<std::string> names;
  for (const auto& p : gru.named_parameters()) names.push_back(p.name);
  ASSERT_EQ(names.size(), 16u);
  EXPECT_EQ(names[0], "layers.0.forward.weight_ih");
  EXPECT_EQ(names[4], "layers.0.backward.weight_ih");
  EXPECT_EQ(names[15], "layers.1.backward.bias_hh");
  // layer 1 reads both directions of layer 0: weight_ih [3H, 2H]
  for (const auto& p : gru.named_parameters())
    if (p.name == "layers.1.forward.weight_ih") {
      EXPECT_EQ(p.tensor.shape(), Shape({9, 6}));
    }
}

TEST(GRU, CellGradcheck) {
  Generator gen(7);
  nn::GRUCell cell(3, 2, gen, DType::f64);
  expect_gradcheck(cell, {random_f64({2, 3}, 8), random_f64({2, 2}, 9)},
                   [&](const std::vector<Tensor>& in) { return cell.forward(in[0], in[1]); });
}

TEST(GRU, BidirectionalTwoLayerPaddedGradcheck) {
  Generator gen(17);
  nn::GRU gru({2, 2, 2, true}, gen, DType::f64);
  const Tensor lengths = testing::i64({3, 1}, {2});
  // Outputs and final states both carry gradient; padded outputs are zero and must get none.
  expect_gradcheck(gru, {random_f64({2, 3, 2}, 18), random_f64({4, 2, 2}, 19)}, [&](const std::vector<Tensor>& in) {
    const nn::GRUOutput out = gru.forward(in[0], lengths, in[1]);
    return concat({reshape(out.outputs, {-1}), reshape(out.final_states, {-1})}, 0);
  });
}

TEST(GRU, ErrorsNameTheModuleAndTheProblem) {
  Generator gen(1);
  nn::GRU gru({2, 3, 1, false}, gen);
  const Tensor x = Tensor::zeros({2, 4, 2});
  try {
    gru.forward(x, testing::i64({4, 0}, {2}));
    FAIL() << "length 0 accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[gru] lengths[1] = 0 is outside [1, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gru.forward(x, testing::i64({5, 1}, {2})), UsageError);
  try {
    gru.forward(Tensor::zeros({2, 4, 3}));
    FAIL() << "wrong input size accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[gru] input must be [B, T, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gru.forward(x, {}, Tensor::zeros({2, 2, 3})), UsageError);
}

}  // namespace
}  // namespace attnscale

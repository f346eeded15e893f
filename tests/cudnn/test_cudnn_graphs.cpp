// Every cuDNN SDPA graph the program can build, built and validate()d against cuDNN's support rules
// for sm_80 and sm_90 (label cudnn; no GPU needed): forward and backward, bf16 and fp16, each mask
// form cudnn_attention_fit produces (none, causal, causal with a query offset, sliding window,
// two-sided band, key padding, and padding with causal or window), GQA / MQA / MHA, lengths that are
// not multiples of 128, every head dim the fit accepts; sm_70 and head dims cuDNN does not take are
// refused.
// The graphs reach cuDNN through the same path as a call does: AttentionParams ->
// cudnn_attention_fit -> sdpa_graph_key -> the graph.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/attention_kernel.h"
#include "kernels/cuda/cudnn_attention.h"

namespace attnscale::cuda {
namespace {

using kernels::AttentionDType;
using kernels::AttentionParams;
using kernels::AttentionShape;

constexpr SdpaDirection kDirections[] = {SdpaDirection::forward, SdpaDirection::backward};
constexpr AttentionDType kDtypes[] = {AttentionDType::bf16, AttentionDType::f16};
constexpr kernels::SmVersion kArchitectures[] = {80, 90};

// GQA at a length not a multiple of 128, MHA at 1024, MQA at an odd length.
const std::vector<AttentionShape> kShapes = {
    {2, 8, 2, 1000, 1000, 128, 128}, {1, 4, 4, 1024, 1024, 64, 64}, {2, 4, 1, 333, 333, 64, 64}};

struct MaskKind {
  std::string name;
  // Sets the mask (and positions) of params for its shape; the per-token arrays live in `tokens`.
  std::function<void(AttentionParams&, std::vector<int32_t>& tokens)> apply;
};

// Row 0 keeps its first 3/4 of the keys, the other rows all of them.
void pad_first_row(AttentionParams& p, std::vector<int32_t>& valid) {
  const AttentionShape& s = p.shape;
  valid.assign(s.batch * s.k_len, 1);
  std::fill(valid.begin() + s.k_len * 3 / 4, valid.begin() + s.k_len, 0);
  p.mask.k_valid = valid;
}

const std::vector<MaskKind> kMaskKinds = {
    {"none", [](AttentionParams&, std::vector<int32_t>&) {}},
    {"causal", [](AttentionParams& p, std::vector<int32_t>&) { p.mask.causal = true; }},
    {"causal_query_offset",  // a later query shard against keys from 0: right bound = the offset
     [](AttentionParams& p, std::vector<int32_t>&) {
       p.mask.causal = true;
       p.shape.q_len = p.shape.q_len / 2;
       p.q_positions = kernels::Positions::contiguous(p.shape.k_len - p.shape.q_len, p.shape.q_len);
     }},
    {"sliding_window",
     [](AttentionParams& p, std::vector<int32_t>&) {
       p.mask.causal = true;
       p.mask.window = kernels::Window{255, 0};
     }},
    {"band", [](AttentionParams& p, std::vector<int32_t>&) { p.mask.window = kernels::Window{64, 32}; }},
    {"key_padding", pad_first_row},
    {"causal_key_padding",
     [](AttentionParams& p, std::vector<int32_t>& tokens) {
       p.mask.causal = true;
       pad_first_row(p, tokens);
     }},
    {"window_key_padding",
     [](AttentionParams& p, std::vector<int32_t>& tokens) {
       p.mask.causal = true;
       p.mask.window = kernels::Window{511, 0};  // no row slides past row 0's keys
       pad_first_row(p, tokens);
     }},
};

// Validates fwd and bwd, bf16 and fp16, sm_80 and sm_90 for params; returns how many graphs.
int validate_all(const AttentionParams& p) {
  int graphs = 0;
  for (const AttentionDType dtype : kDtypes)
    for (const kernels::SmVersion sm : kArchitectures) {
      const kernels::CudnnFit fit = kernels::cudnn_attention_fit(p, dtype, sm);
      EXPECT_TRUE(fit.fits()) << fit.reason;
      if (!fit.fits()) continue;
      for (const SdpaDirection direction : kDirections) {
        const SdpaGraphKey key = sdpa_graph_key(direction, p, dtype, sm, fit.mask);
        EXPECT_NO_THROW(validate_sdpa_graph(key)) << sdpa_graph_name(key);
        ++graphs;
      }
    }
  return graphs;
}

class CudnnGraphs : public ::testing::TestWithParam<MaskKind> {};

TEST_P(CudnnGraphs, ValidateForSm80AndSm90) {
  int graphs = 0;
  for (const AttentionShape& shape : kShapes) {
    AttentionParams p = kernels::default_attention_params(shape);
    std::vector<int32_t> tokens;
    GetParam().apply(p, tokens);
    graphs += validate_all(p);
  }
  EXPECT_EQ(graphs, static_cast<int>(kShapes.size()) * 8);
}

INSTANTIATE_TEST_SUITE_P(EveryMaskForm, CudnnGraphs, ::testing::ValuesIn(kMaskKinds),
                         [](const auto& info) { return info.param.name; });

TEST(CudnnGraphsHeadDims, EveryHeadDimTheFitAccepts) {
  for (int64_t d = 8; d <= 128; d += 8) {
    AttentionParams p = kernels::default_attention_params({1, 4, 2, 200, 200, d, d});
    p.mask.causal = true;
    validate_all(p);
  }
  // Different query/key and value dims.
  AttentionParams p = kernels::default_attention_params({1, 4, 2, 200, 200, 128, 64});
  validate_all(p);
}

TEST(CudnnGraphsRefuse, Sm70) {
  AttentionParams p = kernels::default_attention_params({1, 4, 4, 256, 256, 64, 64});
  p.mask.causal = true;
  const kernels::CudnnFit fit = kernels::cudnn_attention_fit(p, AttentionDType::bf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  for (const SdpaDirection direction : kDirections) {
    const SdpaGraphKey key = sdpa_graph_key(direction, p, AttentionDType::bf16, 70, fit.mask);
    try {
      validate_sdpa_graph(key);
      ADD_FAILURE() << "cuDNN accepted " << sdpa_graph_name(key);
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind("[cudnn_attention] sdpa ", 0), 0u) << what;
      EXPECT_NE(what.find("sm_70"), std::string::npos) << what;
      EXPECT_NE(what.find("needs sm_80 or newer"), std::string::npos) << what;
    }
  }
  // The fit refuses it before a graph is built.
  EXPECT_EQ(kernels::cudnn_attention_fit(p, AttentionDType::bf16, 70).misfit, kernels::CudnnMisfit::architecture);
}

// cuDNN's own rules are applied: a head dim that is not a multiple of 8 fails its validate().
TEST(CudnnGraphsRefuse, HeadDimNotAMultipleOf8ByCuDnnsRules) {
  const AttentionParams p = kernels::default_attention_params({1, 4, 4, 256, 256, 100, 100});
  for (const kernels::SmVersion sm : kArchitectures)
    for (const SdpaDirection direction : kDirections) {
      const SdpaGraphKey key = sdpa_graph_key(direction, p, AttentionDType::bf16, sm, {});
      try {
        validate_sdpa_graph(key);
        ADD_FAILURE() << "cuDNN accepted " << sdpa_graph_name(key);
      } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("validate failed: "), std::string::npos) << e.what();
      }
    }
}

// ... and its mask rules: a negative right bound (cudnn_attention_fit refuses it as `band`) fails
// its validate() too. (A left bound of 0, which masks every key, passes cuDNN 9.19's forward
// validate(): the fit, not cuDNN, keeps such graphs from being built.)
TEST(CudnnGraphsRefuse, NegativeRightBound) {
  const AttentionParams p = kernels::default_attention_params({1, 4, 4, 256, 256, 64, 64});
  kernels::CudnnMaskForm negative_right;
  negative_right.right_bound = -1;
  for (const SdpaDirection direction : kDirections) {
    const SdpaGraphKey key = sdpa_graph_key(direction, p, AttentionDType::bf16, 90, negative_right);
    EXPECT_THROW(validate_sdpa_graph(key), UsageError) << sdpa_graph_name(key);
  }
}

TEST(CudnnGraphsRefuse, Float32IsNotAGraphType) {
  AttentionParams p = kernels::default_attention_params({1, 4, 4, 256, 256, 64, 64});
  SdpaGraphKey key = sdpa_graph_key(SdpaDirection::forward, p, AttentionDType::f32, 90, {});
  EXPECT_THROW(validate_sdpa_graph(key), UsageError);
}

TEST(CudnnGraphs, NamesSayTheKey) {
  AttentionParams p = kernels::default_attention_params({2, 8, 2, 1000, 1000, 128, 128});
  kernels::CudnnMaskForm mask;
  mask.right_bound = 0;
  mask.left_bound = 256;
  mask.padding = true;
  const std::string name = sdpa_graph_name(sdpa_graph_key(SdpaDirection::backward, p, AttentionDType::bf16, 90, mask));
  EXPECT_NE(name.find("sdpa backward bfloat16 sm_90 B2 H8/2 N1000 M1000 D128/128"), std::string::npos) << name;
  EXPECT_NE(name.find("R=0 L=256 padding"), std::string::npos) << name;
  EXPECT_FALSE(cudnn_frontend_version().empty());
}

}  // namespace
}  // namespace attnscale::cuda

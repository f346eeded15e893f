// kernels/attention_kernel.h: what cuDNN's fused attention can express (each refusal reason), the
// translation of our masks on global positions into cuDNN's bounds (checked pair by pair against
// MaskView::allowed), and the choice of attention.kernel.
#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "kernels/attention_kernel.h"

namespace attnscale::kernels {
namespace {

constexpr AttentionDType kBf16 = AttentionDType::bf16;

// Queries at q_offset + i, keys at j.
AttentionParams params_of(AttentionShape shape, int64_t q_offset = 0) {
  return default_attention_params(shape, q_offset);
}

AttentionShape shape_of(int64_t n, int64_t m, int64_t d = 64, int64_t batch = 2) {
  return {batch, 8, 2, n, m, d, d};
}

void expect_refusal(const AttentionParams& p, CudnnMisfit why, AttentionDType dtype = kBf16, SmVersion sm = 90) {
  const CudnnFit fit = cudnn_attention_fit(p, dtype, sm);
  ASSERT_TRUE(fit.misfit.has_value()) << "accepted: " << fit.reason;
  EXPECT_EQ(*fit.misfit, why) << cudnn_misfit_name(*fit.misfit) << ": " << fit.reason;
  EXPECT_FALSE(fit.reason.empty());
}

TEST(CudnnFit, NoMaskFitsWithoutBounds) {
  const CudnnFit fit = cudnn_attention_fit(params_of(shape_of(1000, 1000)), AttentionDType::f16, 80);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_EQ(fit.mask, CudnnMaskForm{});
  EXPECT_EQ(fit.reason, "no mask");
}

TEST(CudnnFit, CausalIsARightBoundAtTheQueryOffset) {
  AttentionParams p = params_of(shape_of(1000, 1000));
  p.mask.causal = true;
  CudnnFit fit = cudnn_attention_fit(p, kBf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_EQ(fit.mask.right_bound, 0);
  EXPECT_FALSE(fit.mask.left_bound);
  // A later query shard against the keys from 0 (a ring step below the diagonal).
  p = params_of(shape_of(500, 1500), 1000);
  p.mask.causal = true;
  fit = cudnn_attention_fit(p, kBf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_EQ(fit.mask.right_bound, 1000);
}

TEST(CudnnFit, SlidingWindowIsALeftBoundOfWindowPlusOne) {
  AttentionParams p = params_of(shape_of(1000, 1000));
  p.mask.causal = true;
  p.mask.window = Window{255, 0};  // 256 keys: the query and 255 before it
  const CudnnFit fit = cudnn_attention_fit(p, kBf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_EQ(fit.mask.left_bound, 256);
  EXPECT_EQ(fit.mask.right_bound, 0);
  // A two-sided band without causal.
  p.mask.causal = false;
  p.mask.window = Window{16, 32};
  const CudnnFit band = cudnn_attention_fit(p, kBf16, 80);
  ASSERT_TRUE(band.fits()) << band.reason;
  EXPECT_EQ(band.mask.left_bound, 17);
  EXPECT_EQ(band.mask.right_bound, 32);
}

TEST(CudnnFit, PrefixKeyPaddingGivesLengths) {
  AttentionParams p = params_of(shape_of(100, 120));
  std::vector<int32_t> valid(2 * 120, 1);
  for (int j = 90; j < 120; ++j) valid[j] = 0;  // row 0 has 90 keys, row 1 all 120
  p.mask.k_valid = valid;
  const CudnnFit fit = cudnn_attention_fit(p, kBf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_TRUE(fit.mask.padding);
  EXPECT_EQ(fit.k_lengths, (std::vector<int32_t>{90, 120}));
}

TEST(CudnnFit, OneSegmentPerRowMasksNothing) {
  AttentionParams p = params_of(shape_of(64, 64));
  std::vector<int32_t> q_seg(2 * 64, 3), k_seg(2 * 64, 3);
  std::fill(q_seg.begin() + 64, q_seg.end(), 7);
  std::fill(k_seg.begin() + 64, k_seg.end(), 7);
  p.mask.q_segment = q_seg;
  p.mask.k_segment = k_seg;
  const CudnnFit fit = cudnn_attention_fit(p, kBf16, 90);
  ASSERT_TRUE(fit.fits()) << fit.reason;
  EXPECT_EQ(fit.mask, CudnnMaskForm{});
}

TEST(CudnnFit, NonContiguousPositionsWithoutPositionalMaskFit) {
  AttentionParams p = params_of(shape_of(128, 64));
  p.q_positions = Layout(LayoutKind::zigzag, 256, 2).positions(0);
  p.k_positions = Layout(LayoutKind::striped, 128, 2).positions(1);
  EXPECT_TRUE(cudnn_attention_fit(p, kBf16, 90).fits());
}

// ---- each refusal --------------------------------------------------------------------------------

TEST(CudnnFitRefuses, Float32AndFloat64) {
  expect_refusal(params_of(shape_of(64, 64)), CudnnMisfit::dtype, AttentionDType::f32);
  expect_refusal(params_of(shape_of(64, 64)), CudnnMisfit::dtype, AttentionDType::f64);
}

TEST(CudnnFitRefuses, OlderThanSm80AndNoGpu) {
  expect_refusal(params_of(shape_of(64, 64)), CudnnMisfit::architecture, kBf16, 75);
  expect_refusal(params_of(shape_of(64, 64)), CudnnMisfit::architecture, kBf16, 70);
  expect_refusal(params_of(shape_of(64, 64)), CudnnMisfit::architecture, kBf16, 0);
}

TEST(CudnnFitRefuses, HeadDimsNotMultiplesOf8OrAbove128) {
  expect_refusal(params_of(shape_of(64, 64, 100)), CudnnMisfit::head_dim);
  expect_refusal(params_of(shape_of(64, 64, 256)), CudnnMisfit::head_dim);
  AttentionShape s = shape_of(64, 64, 64);
  s.value_dim = 12;
  expect_refusal(params_of(s), CudnnMisfit::head_dim);
}

TEST(CudnnFitRefuses, BlockSparsePatterns) {
  AttentionParams p = params_of(shape_of(256, 256));
  p.mask.blocks = std::make_shared<BlockPattern>(BlockPattern::strided(64, 4, 2, true));
  expect_refusal(p, CudnnMisfit::block_pattern);
}

TEST(CudnnFitRefuses, SeveralSegmentsInARow) {
  AttentionParams p = params_of(shape_of(64, 64));
  std::vector<int32_t> seg(2 * 64, 0);
  seg[40] = seg[41] = 1;  // packed documents in row 0
  p.mask.q_segment = seg;
  p.mask.k_segment = seg;
  expect_refusal(p, CudnnMisfit::segments);
}

TEST(CudnnFitRefuses, CausalOverZigzagOrStripedShards) {
  AttentionParams p = params_of(shape_of(128, 128));
  p.mask.causal = true;
  p.q_positions = Layout(LayoutKind::zigzag, 256, 2).positions(0);
  p.k_positions = Positions::contiguous(0, 128);
  expect_refusal(p, CudnnMisfit::positions);
  p.q_positions = Positions::contiguous(0, 128);
  p.k_positions = Layout(LayoutKind::striped, 256, 2).positions(1);
  expect_refusal(p, CudnnMisfit::positions);
}

TEST(CudnnFitRefuses, KeyPaddingThatIsNotAPrefix) {
  AttentionParams p = params_of(shape_of(64, 64));
  std::vector<int32_t> valid(2 * 64, 1);
  valid[64 + 10] = 0;  // a hole in row 1
  p.mask.k_valid = valid;
  expect_refusal(p, CudnnMisfit::key_padding);
}

TEST(CudnnFitRefuses, KeysAfterEveryQueryAndNegativeWindows) {
  // A ring step whose keys all follow the queries: causal gives a negative right bound.
  AttentionParams p = params_of(shape_of(128, 128), 0);
  p.k_positions = Positions::contiguous(128, 128);
  p.mask.causal = true;
  expect_refusal(p, CudnnMisfit::band);
  // A window that ends before the query (right < 0).
  p = params_of(shape_of(128, 128));
  p.mask.window = Window{8, -2};
  expect_refusal(p, CudnnMisfit::band);
  // Keys far before the queries, beyond the window: left bound < 1.
  p = params_of(shape_of(128, 128), 1000);
  p.mask.window = Window{64, 0};
  expect_refusal(p, CudnnMisfit::band);
}

TEST(CudnnFitRefuses, WindowWithMoreQueriesThanKeys) {
  AttentionParams p = params_of(shape_of(256, 128));
  p.mask.window = Window{300, 300};
  expect_refusal(p, CudnnMisfit::window_longer_queries);
}

TEST(CudnnFitRefuses, RowsWithoutKeys) {
  // A batch row with no key at all.
  AttentionParams p = params_of(shape_of(64, 64));
  std::vector<int32_t> valid(2 * 64, 1);
  std::fill(valid.begin() + 64, valid.end(), 0);
  p.mask.k_valid = valid;
  expect_refusal(p, CudnnMisfit::fully_masked_rows);
  // A causal window whose last queries have slid past the present keys.
  p = params_of(shape_of(256, 256));
  p.mask.causal = true;
  p.mask.window = Window{63, 0};
  std::vector<int32_t> short_row(2 * 256, 1);
  std::fill(short_row.begin() + 100, short_row.begin() + 256, 0);  // row 0 keeps 100 keys
  p.mask.k_valid = short_row;
  expect_refusal(p, CudnnMisfit::fully_masked_rows);
}

// ---- the translation, pair by pair ---------------------------------------------------------------

// cuDNN's mask (top-left diagonal, the bounds of kernels/attention_kernel.h) for one pair.
bool cudnn_allows(const CudnnFit& fit, int64_t b, int64_t i, int64_t j) {
  if (fit.mask.right_bound && j > i + *fit.mask.right_bound) return false;
  if (fit.mask.left_bound && j <= i - *fit.mask.left_bound) return false;
  if (fit.mask.padding && j >= fit.k_lengths[b]) return false;
  return true;
}

TEST(CudnnFit, BoundsAllowExactlyTheSamePairsAsTheMask) {
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t n = 1 + rng() % 40, m = 1 + rng() % 40, batch = 2;
    AttentionParams p = params_of({batch, 1, 1, n, m, 8, 8}, static_cast<int64_t>(rng() % 60) - 20);
    p.k_positions = Positions::contiguous(static_cast<int64_t>(rng() % 20), m);
    p.mask.causal = rng() % 2 == 0;
    if (rng() % 2 == 0) p.mask.window = Window{static_cast<int64_t>(rng() % 30), static_cast<int64_t>(rng() % 30) - 5};
    std::vector<int32_t> valid;
    if (rng() % 2 == 0) {
      valid.assign(batch * m, 0);
      for (int64_t b = 0; b < batch; ++b)
        std::fill(valid.begin() + b * m, valid.begin() + b * m + static_cast<int64_t>(rng() % (m + 1)), 1);
      p.mask.k_valid = valid;
    }
    const CudnnFit fit = cudnn_attention_fit(p, kBf16, 90);
    if (!fit.fits()) {
      // Only the reasons a positional mask and prefix padding can give.
      EXPECT_TRUE(*fit.misfit == CudnnMisfit::band || *fit.misfit == CudnnMisfit::window_longer_queries ||
                  *fit.misfit == CudnnMisfit::fully_masked_rows)
          << fit.reason;
      continue;
    }
    ++accepted;
    std::vector<int64_t> q_pos(n), k_pos(m);
    p.q_positions.fill(q_pos);
    p.k_positions.fill(k_pos);
    for (int64_t b = 0; b < batch; ++b) {
      const MaskView row(p.mask, b, q_pos, k_pos);
      for (int64_t i = 0; i < n; ++i) {
        bool any = false;
        for (int64_t j = 0; j < m; ++j) {
          ASSERT_EQ(cudnn_allows(fit, b, i, j), row.allowed(i, j))
              << "trial " << trial << " b " << b << " i " << i << " j " << j << ": " << fit.reason;
          any = any || row.allowed(i, j);
        }
        EXPECT_TRUE(any) << "accepted a row without keys: trial " << trial << " b " << b << " i " << i;
      }
    }
  }
  EXPECT_GT(accepted, 50);
}

// ---- attention.kernel ----------------------------------------------------------------------------

TEST(AttentionKernelChoice, OwnAutoAndCudnn) {
  AttentionParams p = params_of(shape_of(1000, 1000));
  p.mask.causal = true;
  EXPECT_EQ(choose_attention_kernel(AttentionKernel::own, p, kBf16, 90, true).kernel, AttentionKernel::own);

  const AttentionKernelChoice fast = choose_attention_kernel(AttentionKernel::auto_, p, kBf16, 90, true);
  EXPECT_EQ(fast.kernel, AttentionKernel::cudnn);
  EXPECT_EQ(fast.fit.mask.right_bound, 0);
  EXPECT_NE(fast.reason.find("bfloat16 on sm_90"), std::string::npos) << fast.reason;

  const AttentionKernelChoice fp32 = choose_attention_kernel(AttentionKernel::auto_, p, AttentionDType::f32, 90, true);
  EXPECT_EQ(fp32.kernel, AttentionKernel::own);
  EXPECT_NE(fp32.reason.find("not float32"), std::string::npos) << fp32.reason;

  const AttentionKernelChoice absent = choose_attention_kernel(AttentionKernel::auto_, p, kBf16, 90, false);
  EXPECT_EQ(absent.kernel, AttentionKernel::own);
  EXPECT_NE(absent.reason.find("no cuDNN attention"), std::string::npos) << absent.reason;

  EXPECT_EQ(choose_attention_kernel(AttentionKernel::cudnn, p, kBf16, 80, true).kernel, AttentionKernel::cudnn);
  EXPECT_THROW(choose_attention_kernel(AttentionKernel::cudnn, p, AttentionDType::f32, 90, true), UsageError);
  EXPECT_THROW(choose_attention_kernel(AttentionKernel::cudnn, p, kBf16, 90, false), UsageError);
  try {
    choose_attention_kernel(AttentionKernel::cudnn, p, kBf16, 70, true);
    FAIL() << "sm_70 accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[attention] attention.kernel = cudnn: sm_70"), std::string::npos)
        << e.what();
  }
}

TEST(AttentionKernelChoice, NamesMatchTheEnum) {
  EXPECT_EQ(attention_kernel_name(AttentionKernel::own), "own");
  EXPECT_EQ(attention_kernel_name(AttentionKernel::cudnn), "cudnn");
  EXPECT_EQ(attention_kernel_name(AttentionKernel::auto_), "auto");
  EXPECT_EQ(cudnn_misfit_name(CudnnMisfit::dtype), "dtype");
  EXPECT_EQ(cudnn_misfit_name(CudnnMisfit::fully_masked_rows), "fully_masked_rows");
}

}  // namespace
}  // namespace attnscale::kernels

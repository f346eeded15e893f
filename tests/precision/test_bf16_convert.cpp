// float32/float64 -> bfloat16 rounding (kernels/bf16.h) and the array conversions of every ISA
// variant (kernels/bf16_convert.h) against an independent reference: the nearest of the two bf16
// neighbours by exact arithmetic (long double), ties to the even one, NaN to the quiet NaN.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "framework/core/tensor/tensor.h"
#include "kernels/bf16_convert.h"
#include "kernels/isa.h"

namespace attnscale {
namespace {

long double bf16_value(uint16_t bits) {
  return static_cast<long double>(std::bit_cast<float>(static_cast<uint32_t>(bits) << 16));
}

// The reference: x lies between the bf16 values `down` (x's bits truncated toward zero) and the
// next one away from zero; pick the nearer, a tie the one with an even last bit.
uint16_t reference_bf16(long double x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFFC0 : 0x7FC0;
  const float truncated_float = static_cast<float>(x);  // only the sign and the binade matter below
  uint16_t down = static_cast<uint16_t>(std::bit_cast<uint32_t>(truncated_float) >> 16);
  // Step `down` until |bf16(down)| <= |x| < |bf16(down + 1)|.
  while ((down & 0x7FFF) != 0 && std::fabs(bf16_value(down)) > std::fabs(x)) --down;
  while ((down & 0x7FFF) < 0x7F80 && std::fabs(bf16_value(static_cast<uint16_t>(down + 1))) <= std::fabs(x)) ++down;
  if ((down & 0x7FFF) == 0x7F80) return down;  // infinity
  const uint16_t up = static_cast<uint16_t>(down + 1);
  const long double below = std::fabs(x) - std::fabs(bf16_value(down));
  // Above the largest finite bf16 the "next" value is infinity; its distance is that of the
  // value 2^128 that the exponent would reach.
  const long double next = (up & 0x7FFF) == 0x7F80 ? std::ldexp(1.0L, 128) : std::fabs(bf16_value(up));
  const long double above = next - std::fabs(x);
  if (below < above) return down;
  if (above < below) return up;
  return (down & 1) ? up : down;
}

// Floats around every bf16 value: exact, just above, halfway, just past halfway, just below the next.
std::vector<float> probe_floats() {
  std::vector<float> out;
  for (uint32_t h = 0; h < 0x10000; ++h)
    for (const uint32_t low : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0x1234u})
      out.push_back(std::bit_cast<float>((h << 16) | low));
  return out;
}

TEST(Bf16Rounding, FloatMatchesTheReferenceAroundEveryBf16Value) {
  int64_t mismatches = 0;
  for (const float x : probe_floats()) {
    const uint16_t got = kernels::bf16_from_float(x).bits;
    const uint16_t want = reference_bf16(static_cast<long double>(x));
    if (got != want && ++mismatches <= 5)
      ADD_FAILURE() << std::hex << "x bits 0x" << std::bit_cast<uint32_t>(x) << ": got 0x" << got << ", want 0x"
                    << want;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Bf16Rounding, SpecialValues) {
  const auto bits = [](float x) { return kernels::bf16_from_float(x).bits; };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bits(inf), 0x7F80);
  EXPECT_EQ(bits(-inf), 0xFF80);
  EXPECT_EQ(bits(std::numeric_limits<float>::quiet_NaN()), 0x7FC0);
  EXPECT_EQ(bits(-std::numeric_limits<float>::quiet_NaN()), 0xFFC0);
  EXPECT_EQ(bits(std::bit_cast<float>(0x7F800001u)), 0x7FC0);  // a signalling NaN must not become infinity
  EXPECT_EQ(bits(std::bit_cast<float>(0x7FFFFFFFu)), 0x7FC0);  // nor wrap into the sign bit
  EXPECT_EQ(bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds past the largest bf16
  EXPECT_EQ(bits(std::bit_cast<float>(0x7F7F7FFFu)), 0x7F7F);  // just below the tie: the largest finite bf16
  EXPECT_EQ(bits(std::bit_cast<float>(0x7F7F8000u)), 0x7F80);  // tie, odd 0x7F7F rounds up to infinity
  EXPECT_EQ(bits(-0.0f), 0x8000);
  EXPECT_EQ(bits(std::bit_cast<float>(0x00010000u)), 0x0001);  // the smallest bf16 denormal, exact
  EXPECT_EQ(bits(std::bit_cast<float>(0x00008000u)), 0x0000);  // half of it: tie to even 0
  EXPECT_EQ(bits(std::bit_cast<float>(0x00018000u)), 0x0002);  // 1.5 of it: tie to even 2
  EXPECT_EQ(bits(std::bit_cast<float>(0x807F8001u)), 0x8080);  // a negative denormal rounds to -FLT_MIN
  EXPECT_EQ(bits(1.0f + 1.0f / 256), 0x3F80);                  // 1 + half an ulp: tie to even 1
  EXPECT_EQ(bits(1.0f + 3.0f / 256), 0x3F82);                  // 1 + 1.5 ulp: tie to even
  EXPECT_EQ(kernels::bf16_to_float(bf16{0x0001}), std::bit_cast<float>(0x00010000u));
  EXPECT_TRUE(std::isnan(kernels::bf16_to_float(bf16{0x7FC0})));
}

// Doubles go straight to bf16 (no double rounding through float): values just off a bf16 tie,
// where rounding to float first would land on the tie and round to even the wrong way.
TEST(Bf16Rounding, DoubleIsRoundedOnceAndCorrectly) {
  uint64_t state = 42;
  const auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 11;
  };
  int64_t mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const double base = std::ldexp(static_cast<double>(next() % (1u << 8)) + 256.0, static_cast<int>(next() % 200) - 100);
    const double ulp = std::ldexp(1.0, std::ilogb(base) - 7);
    // base + k/2 ulp + a tiny offset that float cannot hold.
    const double tiny = ulp * std::ldexp(1.0, -30) * (static_cast<double>(next() % 3) - 1.0);
    const double x = (i % 2 ? -1 : 1) * (base + ulp * 0.5 * static_cast<double>(next() % 3) + tiny);
    const uint16_t got = kernels::bf16_from_double(x).bits, want = reference_bf16(static_cast<long double>(x));
    if (got != want && ++mismatches <= 5) ADD_FAILURE() << "x = " << x << ": got " << got << ", want " << want;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(kernels::bf16_from_double(1e300).bits, 0x7F80);
  EXPECT_EQ(kernels::bf16_from_double(-1e-300).bits, 0x8000);
  EXPECT_EQ(kernels::bf16_from_double(std::nan("")).bits, 0x7FC0);
}

// Every variant of the array conversion gives the scalar rounding's bits (blocks of 16 with a
// denormal or a NaN included, and tails).
TEST(Bf16Convert, EveryIsaVariantMatchesTheScalarRounding) {
  std::vector<float> x = probe_floats();
  x.resize(x.size() + 7, 1.5f);  // a tail shorter than a vector
  const kernels::Isa original = kernels::active_isa();
  for (const kernels::Isa isa : {kernels::Isa::avx2, kernels::Isa::avx512}) {
    if (!kernels::cpu_supports(isa)) continue;
    kernels::set_active_isa(isa);
    std::vector<bf16> narrowed(x.size());
    kernels::f32_to_bf16(static_cast<int64_t>(x.size()), x.data(), narrowed.data());
    std::vector<float> widened(x.size());
    kernels::bf16_to_f32(static_cast<int64_t>(x.size()), narrowed.data(), widened.data());
    int64_t mismatches = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const bf16 want = kernels::bf16_from_float(x[i]);
      const bool same = narrowed[i].bits == want.bits &&
                        std::bit_cast<uint32_t>(widened[i]) == static_cast<uint32_t>(want.bits) << 16;
      if (!same && ++mismatches <= 5)
        ADD_FAILURE() << kernels::bf16_convert_variant() << std::hex << ": x bits 0x" << std::bit_cast<uint32_t>(x[i])
                      << " gave 0x" << narrowed[i].bits << ", want 0x" << want.bits;
    }
    EXPECT_EQ(mismatches, 0) << kernels::bf16_convert_variant();
  }
  kernels::set_active_isa(original);
}

TEST(Bf16Tensor, ConversionsCopiesAndFills) {
  const Tensor x = Tensor::from(std::vector<float>{1.0f, 1.0f + 1.0f / 256, -3.0f, 1e-40f}, {2, 2});
  const Tensor h = x.to(DType::bf16);
  EXPECT_EQ(h.dtype(), DType::bf16);
  EXPECT_EQ(h.storage()->bytes(), 8u);
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{1.0f, 1.0f, -3.0f, kernels::bf16_to_float(kernels::bf16_from_float(1e-40f))}));
  EXPECT_EQ(h.to(DType::f64).to_vector<double>()[2], -3.0);
  const Tensor t = h.to(DType::f64).to(DType::bf16);  // f64 -> bf16 directly
  EXPECT_EQ(t.to_vector<float>(), h.to_vector<float>());
  Tensor transposed = Tensor::empty({2, 2}, DType::bf16);
  transposed.copy_(x.to(DType::bf16).detach());
  EXPECT_EQ(transposed.to_vector<float>(), h.to_vector<float>());
  EXPECT_EQ(Tensor::full({1}, 0.1, DType::bf16).item(),
            static_cast<double>(kernels::bf16_to_float(kernels::bf16_from_double(0.1))));
  Generator gen(1);
  EXPECT_THROW(Tensor::randn({2}, gen, DType::bf16), UsageError);  // no bf16 kernel: a clear error
}

}  // namespace
}  // namespace attnscale

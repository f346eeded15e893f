// kernels/cuda/dropout.cu on the host emulator against kernels/cpu/dropout.cpp: the same seed and
// counter must give the same mask, element for element (compared exactly).
#include <vector>

#include "kernels/cuda/dropout.h"
#include "kernels/dropout.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostDropout : public KernelTest {};
TYPED_TEST_SUITE(CudaHostDropout, FloatTypes);

TYPED_TEST(CudaHostDropout, SameMaskAsCpu) {
  using T = TypeParam;
  // A partial last group (1000 = 15 * 64 + 40), a counter past 2^32 (its high word matters) and
  // the edge probabilities 0 and 1.
  const int64_t n = 1000;
  const KernelVector<T> x = uniform<T>(n, 31, 0.5, 1.5);  // never 0, so a zero output means dropped
  for (const double p : {0.0, 0.1, 0.5, 1.0}) {
    for (const uint64_t first_counter : {uint64_t{0}, uint64_t{17}, (uint64_t{1} << 32) - 5}) {
      SCOPED_TRACE(testing::Message() << "p " << p << " counter " << first_counter);
      const uint64_t drop_below = static_cast<uint64_t>(p * 4294967296.0);
      const T scale = p < 1 ? static_cast<T>(1 / (1 - p)) : T(0);
      KernelVector<T> cpu(n), gpu(n, T(-1));
      kernels::dropout<T>(n, x.data(), cpu.data(), 0x1234abcd5678ef01ull, first_counter, drop_below, scale);
      cuda::dropout<T>(n, x.data(), gpu.data(), 0x1234abcd5678ef01ull, first_counter, drop_below, scale, kStream);
      EXPECT_EQ(gpu, cpu);
      int64_t dropped = 0;
      for (const T y : gpu) dropped += y == T(0);
      if (p == 0) {
        EXPECT_EQ(dropped, 0);
      } else if (p == 1) {
        EXPECT_EQ(dropped, n);
      } else if (p == 0.5) {
        EXPECT_NEAR(static_cast<double>(dropped) / n, 0.5, 0.06);
      }
    }
  }
}

}  // namespace
}  // namespace attnscale::test

// kernels/cuda/sparsemax.cu (Michelot's algorithm) on the host emulator against the CPU's
// sort-based kernels::sparsemax_forward / sparsemax_backward, row by row.
#include <limits>
#include <span>
#include <vector>

#include "kernels/cuda/sparsemax.h"
#include "kernels/sparsemax.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostSparsemax : public KernelTest {};
TYPED_TEST_SUITE(CudaHostSparsemax, FloatTypes);

TYPED_TEST(CudaHostSparsemax, ForwardAndBackwardMatchCpu) {
  using T = TypeParam;
  const T inf = std::numeric_limits<T>::infinity();
  for (const int64_t n : {6, 90, 600}) {
    SCOPED_TRACE(n);
    const int64_t rows = 5;
    KernelVector<T> z = uniform<T>(rows * n, 71, -2, 2);
    for (int64_t i = 0; i < n; ++i) z[i] = -inf;           // row 0: fully masked
    for (int64_t i = 0; i < n; i += 3) z[n + i] = -inf;    // row 1: partly masked
    for (int64_t i = 0; i < n; ++i) z[2 * n + i] = T(0.25);  // row 2: all equal (uniform output)
    z[3 * n + 1] = T(40);                                  // row 3: one dominant entry (p = one-hot)
    const KernelVector<T> dp = uniform<T>(rows * n, 72);

    KernelVector<T> p_cpu(rows * n), dz_cpu(rows * n), scratch(n);
    for (int64_t r = 0; r < rows; ++r) {
      const std::span<const T> zr(z.data() + r * n, n);
      kernels::sparsemax_forward<T>(zr, std::span<T>(p_cpu.data() + r * n, n), scratch);
      kernels::sparsemax_backward<T>(std::span<const T>(p_cpu.data() + r * n, n),
                                     std::span<const T>(dp.data() + r * n, n), std::span<T>(dz_cpu.data() + r * n, n));
    }
    KernelVector<T> p_gpu(rows * n), dz_gpu(rows * n);
    cuda::sparsemax_forward<T>(rows, n, z.data(), p_gpu.data(), kStream);
    cuda::sparsemax_backward<T>(rows, n, p_cpu.data(), dp.data(), dz_gpu.data(), kStream);
    EXPECT_TRUE(all_close(p_gpu, p_cpu));
    EXPECT_TRUE(all_close(dz_gpu, dz_cpu));
    // The supports agree exactly (which entries are nonzero).
    for (int64_t i = 0; i < rows * n; ++i) EXPECT_EQ(p_gpu[i] > 0, p_cpu[i] > 0) << i;
  }
}

}  // namespace
}  // namespace attnscale::test

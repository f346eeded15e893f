// kernels/cuda/blas.cpp (cuBLAS) against the CPU GEMM (OpenBLAS): every transpose combination,
// leading dimensions wider than the matrices, alpha and beta, fp32 (CUBLAS_COMPUTE_32F) and fp64.
// Needs a GPU: skips with the reason without one. In the emulation build it runs blas_emulation.cpp
// (the CPU GEMM itself), which checks only that the emulated Blas keeps cuBLAS's row-major contract.
#include <vector>

#include "kernels/cuda/blas.h"
#include "kernels/gemm.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class GpuBlas : public KernelTest {};
TYPED_TEST_SUITE(GpuBlas, FloatTypes);

TYPED_TEST(GpuBlas, GemmMatchesCpu) {
  using T = TypeParam;
  cuda::Blas blas;
  const int64_t m = 37, n = 29, k = 45, pad = 3;
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      SCOPED_TRACE(testing::Message() << "trans_a " << trans_a << " trans_b " << trans_b);
      const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
      const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
      const KernelVector<T> a = uniform<T>(a_rows * lda, 1), b = uniform<T>(b_rows * ldb, 2);
      KernelVector<T> c_cpu = uniform<T>(m * ldc, 3), c_gpu = c_cpu;
      kernels::gemm<T>(trans_a, trans_b, m, n, k, T(0.75), a.data(), lda, b.data(), ldb, T(0.5), c_cpu.data(), ldc);
      blas.gemm<T>(trans_a, trans_b, m, n, k, T(0.75), a.data(), lda, b.data(), ldb, T(0.5), c_gpu.data(), ldc,
                   kStream);
      wait_for_kernels();
      EXPECT_TRUE(all_close(c_gpu, c_cpu, sizeof(T) == 4 ? Tolerance{1e-5, 1e-5} : Tolerance{1e-12, 1e-12}));
    }
  }
}

#if !defined(ATTNSCALE_CUDA_HOST_EMULATION)  // the emulation build has no cuBLAS
TEST(GpuBlasVersion, ReportsTheLinkedLibrary) {
  // cuBLAS answers its version without a device.
  EXPECT_GE(cuda::Blas::version(), 110000);
}
#endif

}  // namespace
}  // namespace attnscale::test

// kernels/cuda/cross_entropy.cu on the host emulator against kernels/cpu/cross_entropy.cpp.
#include <vector>

#include "kernels/cross_entropy.h"
#include "kernels/cuda/cross_entropy.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostCrossEntropy : public KernelTest {};
TYPED_TEST_SUITE(CudaHostCrossEntropy, FloatTypes);

TYPED_TEST(CudaHostCrossEntropy, ForwardAndBackwardMatchCpu) {
  using T = TypeParam;
  const int64_t rows = 7, ignore = -100;
  for (const int64_t classes : {3, 300}) {
    SCOPED_TRACE(classes);
    const KernelVector<T> logits = uniform<T>(rows * classes, 21, -5, 5), grad_loss = uniform<T>(rows, 22);
    KernelVector<int64_t> targets(rows);
    for (int64_t r = 0; r < rows; ++r) targets[r] = (r * 7919) % classes;
    targets[2] = ignore;
    KernelVector<T> loss_cpu(rows), lse_cpu(rows), loss_gpu(rows), lse_gpu(rows);
    kernels::cross_entropy_forward<T>(rows, classes, logits.data(), targets.data(), ignore, loss_cpu.data(),
                                      lse_cpu.data());
    cuda::cross_entropy_forward<T>(rows, classes, logits.data(), targets.data(), ignore, loss_gpu.data(),
                                   lse_gpu.data(), kStream);
    EXPECT_TRUE(all_close(loss_gpu, loss_cpu));
    EXPECT_TRUE(all_close(lse_gpu, lse_cpu));
    EXPECT_EQ(loss_gpu[2], T(0));

    KernelVector<T> grad_cpu(rows * classes), grad_gpu(rows * classes, T(7));
    kernels::cross_entropy_backward<T>(rows, classes, logits.data(), targets.data(), ignore, lse_cpu.data(),
                                       grad_loss.data(), grad_cpu.data());
    cuda::cross_entropy_backward<T>(rows, classes, logits.data(), targets.data(), ignore, lse_cpu.data(),
                                    grad_loss.data(), grad_gpu.data(), kStream);
    EXPECT_TRUE(all_close(grad_gpu, grad_cpu));
  }
}

}  // namespace
}  // namespace attnscale::test

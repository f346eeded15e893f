// kernels/cuda/optim.cu on the host emulator against kernels/cpu/optim.cpp: SGD (plain, momentum,
// Nesterov, weight decay), Adam and AdamW over several steps, and the pieces of gradient clipping
// (the sum of squares, the scaling, the first non-finite element).
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/optim.h"
#include "kernels/elementwise.h"
#include "kernels/optim.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostOptim : public KernelTest {};
TYPED_TEST_SUITE(CudaHostOptim, FloatTypes);

constexpr int64_t kN = 700;

TYPED_TEST(CudaHostOptim, SgdMatchesCpu) {
  using T = TypeParam;
  for (const kernels::SgdStep base : {kernels::SgdStep{.lr = 0.1},
                                      kernels::SgdStep{.lr = 0.05, .momentum = 0.9, .dampening = 0.1,
                                                       .weight_decay = 0.01},
                                      kernels::SgdStep{.lr = 0.05, .momentum = 0.8, .nesterov = true}}) {
    KernelVector<T> p_cpu = uniform<T>(kN, 81), p_gpu = p_cpu, buf_cpu(kN), buf_gpu(kN);
    for (int step = 0; step < 3; ++step) {
      kernels::SgdStep s = base;
      s.first_step = step == 0;
      const KernelVector<T> g = uniform<T>(kN, 82 + step);
      kernels::sgd_update<T>(kN, p_cpu.data(), g.data(), buf_cpu.data(), s);
      cuda::sgd_update<T>(kN, p_gpu.data(), g.data(), buf_gpu.data(), s, kStream);
    }
    EXPECT_TRUE(all_close(p_gpu, p_cpu));
    EXPECT_TRUE(all_close(buf_gpu, buf_cpu));
  }
}

TYPED_TEST(CudaHostOptim, AdamAndAdamWMatchCpu) {
  using T = TypeParam;
  for (const bool decoupled : {false, true}) {
    SCOPED_TRACE(decoupled ? "AdamW" : "Adam");
    KernelVector<T> p_cpu = uniform<T>(kN, 91), p_gpu = p_cpu, m_cpu(kN), m_gpu(kN), v_cpu(kN), v_gpu(kN);
    for (int64_t step = 1; step <= 3; ++step) {
      const kernels::AdamStep s{.lr = 1e-2, .weight_decay = 0.1, .decoupled_weight_decay = decoupled, .step = step};
      const KernelVector<T> g = uniform<T>(kN, 92 + step);
      kernels::adam_update<T>(kN, p_cpu.data(), g.data(), m_cpu.data(), v_cpu.data(), s);
      cuda::adam_update<T>(kN, p_gpu.data(), g.data(), m_gpu.data(), v_gpu.data(), s, kStream);
    }
    EXPECT_TRUE(all_close(p_gpu, p_cpu));
    EXPECT_TRUE(all_close(m_gpu, m_cpu));
    EXPECT_TRUE(all_close(v_gpu, v_cpu));
  }
}

TYPED_TEST(CudaHostOptim, GradientClippingMatchesCpu) {
  using T = TypeParam;
  // Two gradients summed into one total, as clip_grad_norm does over the parameters.
  const KernelVector<T> g1 = uniform<T>(kN, 101, -3, 3), g2 = uniform<T>(5, 102, -3, 3);
  KernelVector<double> workspace(cuda::kSumOfSquaresPartials), sum(1, 0.0);
  cuda::sum_of_squares<T>(kN, g1.data(), workspace.data(), sum.data(), kStream);
  cuda::sum_of_squares<T>(5, g2.data(), workspace.data(), sum.data(), kStream);
  const double total = sum[0];
  const double cpu_total = kernels::sum_of_squares<T>(kN, g1.data()) + kernels::sum_of_squares<T>(5, g2.data());
  EXPECT_NEAR(total, cpu_total, 1e-12 * cpu_total);

  // Scale by max_norm / (norm + 1e-6), as clip_grad_norm does with binary_scalar.
  const T coefficient = static_cast<T>(1.0 / (std::sqrt(total) + 1e-6));
  KernelVector<T> cpu = g1, gpu = g1;
  kernels::binary_scalar<T>(kernels::BinaryOp::mul, kN, cpu.data(), coefficient, cpu.data());
  cuda::binary_scalar<T>(kernels::BinaryOp::mul, kN, gpu.data(), coefficient, gpu.data(), kStream);
  EXPECT_TRUE(all_close(gpu, cpu));

  KernelVector<T> bad = g1;
  KernelVector<int64_t> first(1);
  cuda::first_non_finite<T>(kN, bad.data(), first.data(), kStream);
  EXPECT_EQ(first[0], -1);
  bad[600] = std::numeric_limits<T>::infinity();
  bad[333] = std::numeric_limits<T>::quiet_NaN();
  cuda::first_non_finite<T>(kN, bad.data(), first.data(), kStream);
  EXPECT_EQ(first[0], kernels::first_non_finite<T>(kN, bad.data()));
  EXPECT_EQ(first[0], 333);
}

}  // namespace
}  // namespace attnscale::test

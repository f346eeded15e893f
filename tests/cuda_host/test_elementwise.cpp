// kernels/cuda/elementwise.cu on the host emulator against kernels/cpu/elementwise.cpp.
#include <algorithm>
#include <vector>

#include "base/error.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/elementwise.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

template <typename T>
class CudaHostElementwise : public KernelTest {};
TYPED_TEST_SUITE(CudaHostElementwise, FloatTypes);

constexpr UnaryOp kUnaryOps[] = {UnaryOp::neg,  UnaryOp::exp,  UnaryOp::log,   UnaryOp::tanh,
                                 UnaryOp::sigmoid, UnaryOp::relu, UnaryOp::gelu, UnaryOp::silu,
                                 UnaryOp::sqrt, UnaryOp::rsqrt, UnaryOp::abs,   UnaryOp::square};

TYPED_TEST(CudaHostElementwise, UnaryAndBackwardMatchCpu) {
  using T = TypeParam;
  const int64_t n = 1000;  // not a multiple of the block: the tail matters
  for (const UnaryOp op : kUnaryOps) {
    SCOPED_TRACE(static_cast<int>(op));
    const bool positive = op == UnaryOp::log || op == UnaryOp::sqrt || op == UnaryOp::rsqrt;
    const KernelVector<T> x = uniform<T>(n, 1, positive ? 0.1 : -4.0, 4.0), dy = uniform<T>(n, 2);
    KernelVector<T> y_cpu(n), y_gpu(n), dx_cpu(n), dx_gpu(n);
    kernels::unary<T>(op, n, x.data(), y_cpu.data());
    cuda::unary<T>(op, n, x.data(), y_gpu.data(), kStream);
    EXPECT_TRUE(all_close(y_gpu, y_cpu));
    kernels::unary_backward<T>(op, n, x.data(), y_cpu.data(), dy.data(), dx_cpu.data());
    cuda::unary_backward<T>(op, n, x.data(), y_cpu.data(), dy.data(), dx_gpu.data(), kStream);
    EXPECT_TRUE(all_close(dx_gpu, dx_cpu));
  }
}

TYPED_TEST(CudaHostElementwise, BroadcastBinaryMatchesCpu) {
  using T = TypeParam;
  // a [3, 1, 5] and b [1, 4, 5] broadcast to [3, 4, 5]; b is also read transposed ([5, 4] storage).
  const int64_t shape[] = {3, 4, 5};
  const int64_t a_strides[] = {5, 0, 1}, b_strides[] = {0, 1, 4};
  const KernelVector<T> a = uniform<T>(15, 3, 0.5, 2.0), b = uniform<T>(20, 4, 0.5, 2.0);
  for (const BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div, BinaryOp::pow,
                            BinaryOp::maximum, BinaryOp::minimum, BinaryOp::greater, BinaryOp::less,
                            BinaryOp::equal}) {
    SCOPED_TRACE(static_cast<int>(op));
    KernelVector<T> cpu(60), gpu(60);
    kernels::binary<T>(op, 3, shape, a.data(), a_strides, b.data(), b_strides, cpu.data());
    cuda::binary<T>(op, 3, shape, a.data(), a_strides, b.data(), b_strides, gpu.data(), kStream);
    EXPECT_TRUE(all_close(gpu, cpu));
    kernels::binary_scalar<T>(op, 15, a.data(), T(1.25), cpu.data());
    cuda::binary_scalar<T>(op, 15, a.data(), T(1.25), gpu.data(), kStream);
    EXPECT_TRUE(all_close(gpu, cpu));
  }
}

TYPED_TEST(CudaHostElementwise, StridedCopyAndAccumulateMatchCpu) {
  using T = TypeParam;
  // Copy the transpose of a [6, 7] matrix; accumulate a [6, 7] gradient into a [7] row broadcast
  // over the first axis (stride 0: six source elements add into each destination).
  const int64_t shape[] = {7, 6}, src_strides[] = {1, 7};
  const KernelVector<T> src = uniform<T>(42, 5);
  KernelVector<T> cpu(42), gpu(42);
  kernels::strided_copy<T>(2, shape, src.data(), src_strides, cpu.data());
  cuda::strided_copy<T>(2, shape, src.data(), src_strides, gpu.data(), kStream);
  EXPECT_TRUE(all_close(gpu, cpu));

  const int64_t acc_shape[] = {6, 7}, dst_strides[] = {0, 1};
  KernelVector<T> acc_cpu = uniform<T>(7, 6), acc_gpu = acc_cpu;
  kernels::strided_accumulate<T>(2, acc_shape, src.data(), acc_cpu.data(), dst_strides);
  cuda::strided_accumulate<T>(2, acc_shape, src.data(), acc_gpu.data(), dst_strides, kStream);
  EXPECT_TRUE(all_close(acc_gpu, acc_cpu));
}

class CudaHostElementwiseInt : public KernelTest {};

TEST_F(CudaHostElementwiseInt, BinaryAndCopyMatchCpu) {
  const int64_t shape[] = {4, 3}, a_strides[] = {3, 1}, b_strides[] = {0, 1};
  const KernelVector<int64_t> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b = {2, 0, 3};
  for (const BinaryOp op : {BinaryOp::add, BinaryOp::mul, BinaryOp::maximum, BinaryOp::pow}) {
    KernelVector<int64_t> cpu(12), gpu(12);
    kernels::binary<int64_t>(op, 2, shape, a.data(), a_strides, b.data(), b_strides, cpu.data());
    cuda::binary<int64_t>(op, 2, shape, a.data(), a_strides, b.data(), b_strides, gpu.data(), kStream);
    EXPECT_EQ(gpu, cpu);
  }
}

TEST_F(CudaHostElementwiseInt, FillWritesEveryElement) {
  KernelVector<int64_t> ids(1000, 0);
  cuda::fill<int64_t>(999, 7, ids.data(), kStream);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 7), 999);
  EXPECT_EQ(ids.back(), 0);
  KernelVector<double> x(300);
  cuda::fill<double>(300, -2.5, x.data(), kStream);
  EXPECT_TRUE(all_close(x, KernelVector<double>(300, -2.5)));
}

// Tensor::to(dtype) on the CPU is static_cast per element; the kernel must give the same values,
// including rounding to float and truncation toward zero to int64.
TEST_F(CudaHostElementwiseInt, CastMatchesStaticCast) {
  const KernelVector<double> d = {0.1, -2.7, 3.5, 1e30, -0.0, 123456789.123, -1e-40};
  KernelVector<float> f(d.size());
  cuda::cast<double, float>(static_cast<int64_t>(d.size()), d.data(), f.data(), kStream);
  KernelVector<int64_t> i(d.size() - 1);  // 1e30 does not fit an int64: left out
  const KernelVector<double> fits = {0.1, -2.7, 3.5, -0.0, 123456789.123, -1e-40};
  cuda::cast<double, int64_t>(static_cast<int64_t>(fits.size()), fits.data(), i.data(), kStream);
  for (size_t k = 0; k < d.size(); ++k) EXPECT_EQ(f[k], static_cast<float>(d[k])) << k;
  for (size_t k = 0; k < fits.size(); ++k) EXPECT_EQ(i[k], static_cast<int64_t>(fits[k])) << k;
  const KernelVector<int64_t> ids = {0, -5, 16777217, 1 << 30};
  KernelVector<float> back(ids.size());
  KernelVector<double> wide(ids.size());
  cuda::cast<int64_t, float>(4, ids.data(), back.data(), kStream);
  cuda::cast<float, double>(4, back.data(), wide.data(), kStream);
  for (size_t k = 0; k < ids.size(); ++k) {
    EXPECT_EQ(back[k], static_cast<float>(ids[k])) << k;
    EXPECT_EQ(wide[k], static_cast<double>(back[k])) << k;
  }
}

TEST_F(CudaHostElementwiseInt, TooManyAxesIsAnError) {
  const int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2}, strides[9] = {};
  KernelVector<float> src(2), dst(2);
  EXPECT_THROW(cuda::strided_copy<float>(9, shape, src.data(), strides, dst.data(), kStream), UsageError);
}

}  // namespace
}  // namespace attnscale::test

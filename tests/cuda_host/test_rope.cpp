// kernels/cuda/rope.cu on the host emulator against nn::apply_rope (forward, and the backward
// through autograd), on global positions that do not start at 0 (a sequence shard).
#include <vector>

#include "framework/nn/rope.h"
#include "kernels/cuda/rope.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostRope : public KernelTest {};
TYPED_TEST_SUITE(CudaHostRope, FloatTypes);

TYPED_TEST(CudaHostRope, ForwardAndBackwardMatchCpu) {
  using T = TypeParam;
  const int64_t rows = 3, n = 5, d = 16;
  const KernelVector<int64_t> positions = {4096, 4097, 70000, 12, 131071};  // a shard's global positions
  const KernelVector<T> x = uniform<T>(rows * n * d, 61), dy = uniform<T>(rows * n * d, 62);
  Tensor xt = tensor_from(x, {rows, n, d}).set_requires_grad();
  const Tensor yt = nn::apply_rope(xt, tensor_from(positions, {n}), 10000.0);
  yt.backward(tensor_from(dy, {rows, n, d}));

  KernelVector<T> y(x.size()), dx(x.size());
  cuda::rope_rotate<T>(x.data(), y.data(), rows, n, d, positions.data(), 10000.0, false, kStream);
  cuda::rope_rotate<T>(dy.data(), dx.data(), rows, n, d, positions.data(), 10000.0, true, kStream);
  EXPECT_TRUE(all_close(y, yt.template to_vector<T>()));
  EXPECT_TRUE(all_close(dx, xt.grad().template to_vector<T>()));
}

class CudaHostRopeArguments : public KernelTest {};

TEST_F(CudaHostRopeArguments, OddLastAxisIsAnError) {
  KernelVector<float> x(3), y(3);
  const KernelVector<int64_t> position(1, 0);
  EXPECT_THROW(cuda::rope_rotate<float>(x.data(), y.data(), 1, 1, 3, position.data(), 10000.0, false, kStream),
               UsageError);
}

}  // namespace
}  // namespace attnscale::test

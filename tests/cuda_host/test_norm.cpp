// kernels/cuda/norm.cu on the host emulator against the CPU's LayerNorm and RMSNorm (the op
// compositions of framework/nn/layers.cpp, differentiated by autograd): outputs and the gradients
// of x, gamma and beta.
#include <vector>

#include "framework/core/ops/ops.h"
#include "kernels/cuda/norm.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostNorm : public KernelTest {};
TYPED_TEST_SUITE(CudaHostNorm, FloatTypes);

template <typename T>
std::vector<T> values(const Tensor& t) {
  return t.to_vector<T>();
}

TYPED_TEST(CudaHostNorm, LayerNormAndRmsNormMatchCpu) {
  using T = TypeParam;
  const int64_t rows = 5;
  for (const int64_t dim : {24, 300}) {
    for (const bool centered : {true, false}) {
      SCOPED_TRACE(testing::Message() << "dim " << dim << (centered ? " layernorm" : " rmsnorm"));
      const double eps = centered ? 1e-5 : 1e-6;
      const KernelVector<T> x = uniform<T>(rows * dim, 41, -2, 3), gamma = uniform<T>(dim, 42, 0.5, 1.5),
                           beta = uniform<T>(dim, 43), dy = uniform<T>(rows * dim, 44);
      // The CPU: framework/nn/layers.cpp's formulas through autograd.
      Tensor xt = tensor_from(x, {rows, dim}).set_requires_grad();
      Tensor gt = tensor_from(gamma, {dim}).set_requires_grad();
      Tensor bt = tensor_from(beta, {dim}).set_requires_grad();
      Tensor yt;
      if (centered) {
        const Tensor c = sub(xt, mean(xt, {-1}, true));
        yt = add(mul(mul(c, rsqrt(add(mean(square(c), {-1}, true), eps))), gt), bt);
      } else {
        yt = mul(mul(xt, rsqrt(add(mean(square(xt), {-1}, true), eps))), gt);
      }
      yt.backward(tensor_from(dy, {rows, dim}));

      KernelVector<T> y(rows * dim), mu(rows), rstd(rows), dx(rows * dim), dgamma(dim), dbeta(dim);
      if (centered) {
        cuda::layer_norm_forward<T>(rows, dim, x.data(), gamma.data(), beta.data(), eps, y.data(), mu.data(),
                                    rstd.data(), kStream);
        cuda::layer_norm_backward<T>(rows, dim, x.data(), gamma.data(), mu.data(), rstd.data(), dy.data(), dx.data(),
                                     dgamma.data(), dbeta.data(), kStream);
        EXPECT_TRUE(all_close(dbeta, values<T>(bt.grad())));
      } else {
        cuda::rms_norm_forward<T>(rows, dim, x.data(), gamma.data(), eps, y.data(), rstd.data(), kStream);
        cuda::rms_norm_backward<T>(rows, dim, x.data(), gamma.data(), rstd.data(), dy.data(), dx.data(),
                                   dgamma.data(), kStream);
      }
      const Tolerance tol = sizeof(T) == 4 ? Tolerance{1e-4, 1e-5} : default_tolerance<T>();
      EXPECT_TRUE(all_close(y, values<T>(yt), tol));
      EXPECT_TRUE(all_close(dx, values<T>(xt.grad()), tol));
      EXPECT_TRUE(all_close(dgamma, values<T>(gt.grad()), tol));
    }
  }
}

}  // namespace
}  // namespace attnscale::test

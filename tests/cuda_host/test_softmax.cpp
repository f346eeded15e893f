// kernels/cuda/softmax.cu and reduce.cu on the host emulator against the CPU: kernels::softmax_rows
// and the autograd backward of framework/ops (softmax, log_softmax, sum, max, logsumexp).
#include <limits>
#include <vector>

#include "framework/core/ops/ops.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/softmax.h"
#include "kernels/softmax.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostSoftmax : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaHostSoftmax, FloatTypes);

template <typename T>
constexpr DType dtype_of() {
  return sizeof(T) == 4 ? DType::f32 : DType::f64;
}

TYPED_TEST(CudaHostSoftmax, ForwardAndBackwardMatchCpu) {
  using T = TypeParam;
  // Rows shorter than a warp, not a multiple of one, and longer than a block (a thread takes several).
  for (const int64_t n : {5, 77, 700}) {
    SCOPED_TRACE(n);
    const int64_t rows = 6;
    std::vector<T> x = uniform<T>(rows * n, 11, -6, 6);
    for (int64_t i = 0; i < n; ++i) x[i] = -std::numeric_limits<T>::infinity();  // a fully masked row
    x[n + 1] = -std::numeric_limits<T>::infinity();                               // one masked entry
    const std::vector<T> dy = uniform<T>(rows * n, 12);
    for (const bool log : {false, true}) {
      SCOPED_TRACE(log);
      std::vector<T> y_cpu(rows * n), y_gpu(rows * n);
      kernels::softmax_rows<T>(x.data(), rows, n, y_cpu.data(), log);
      cuda::softmax_rows<T>(x.data(), rows, n, y_gpu.data(), log, kStream);
      EXPECT_TRUE(all_close(y_gpu, y_cpu));

      // The backward on rows without -inf (the CPU's autograd would give NaN * 0 there).
      const std::vector<T> finite_x(x.begin() + 2 * n, x.end());
      const int64_t finite_rows = rows - 2;
      Tensor xt = Tensor::from(finite_x, {finite_rows, n}).set_requires_grad();
      const Tensor yt = log ? log_softmax(xt, -1) : softmax(xt, -1);
      yt.backward(Tensor::from(std::vector<T>(dy.begin() + 2 * n, dy.end()), {finite_rows, n}));
      std::vector<T> dx_gpu(finite_rows * n);
      const std::vector<T> y_finite = yt.to_vector<T>();
      cuda::softmax_rows_backward<T>(y_finite.data(), dy.data() + 2 * n, finite_rows, n, dx_gpu.data(), log, kStream);
      EXPECT_TRUE(all_close(dx_gpu, xt.grad().template to_vector<T>()));
    }
  }
}

TYPED_TEST(CudaHostSoftmax, ReductionsAlongAnAxisMatchCpu) {
  using T = TypeParam;
  const int64_t a = 3, b = 70, c = 4;
  std::vector<T> x = uniform<T>(a * b * c, 13, -3, 3);
  x[5 * c + 1] = x[9 * c + 1];  // a tie: the first occurrence wins
  const Tensor xt = Tensor::from(x, {a, b, c});
  // Axis 1 with inner 4 (a thread per slice), axis 2 and the last axis of [a*b, c] (a block per row).
  struct Case {
    int axis;
    int64_t outer, len, inner;
  };
  for (const Case k : {Case{1, a, b, c}, Case{2, a * b, c, 1}, Case{0, 1, a, b * c}}) {
    SCOPED_TRACE(k.axis);
    const int64_t n = k.outer * k.inner;
    std::vector<T> sums(n), maxes(n), lses(n);
    std::vector<int64_t> arg(n);
    cuda::sum_along<T>(k.outer, k.len, k.inner, x.data(), sums.data(), kStream);
    cuda::max_along<T>(k.outer, k.len, k.inner, x.data(), maxes.data(), arg.data(), kStream);
    cuda::logsumexp_along<T>(k.outer, k.len, k.inner, x.data(), lses.data(), kStream);
    EXPECT_TRUE(all_close(sums, attnscale::sum(xt, {k.axis}).template to_vector<T>()));
    EXPECT_TRUE(all_close(maxes, attnscale::max(xt, k.axis).template to_vector<T>()));
    EXPECT_EQ(arg, attnscale::argmax(xt, k.axis).template to_vector<int64_t>());
    EXPECT_TRUE(all_close(lses, attnscale::logsumexp(xt, k.axis).template to_vector<T>()));
  }
  // A long contiguous row: the block-per-row path with several elements per thread.
  const std::vector<T> row = uniform<T>(1000, 14, -3, 3);
  const Tensor rt = Tensor::from(row, {1, 1000});
  T s = 0, m = 0, l = 0;
  int64_t i = 0;
  cuda::sum_along<T>(1, 1000, 1, row.data(), &s, kStream);
  cuda::max_along<T>(1, 1000, 1, row.data(), &m, &i, kStream);
  cuda::logsumexp_along<T>(1, 1000, 1, row.data(), &l, kStream);
  EXPECT_TRUE(all_close(std::vector<T>{s}, attnscale::sum(rt, {1}).template to_vector<T>()));
  EXPECT_TRUE(all_close(std::vector<T>{m, l}, {max(rt, 1).template to_vector<T>()[0], attnscale::logsumexp(rt, 1).template to_vector<T>()[0]}));
  EXPECT_EQ(i, attnscale::argmax(rt, 1).template to_vector<int64_t>()[0]);
}

}  // namespace
}  // namespace attnscale::test

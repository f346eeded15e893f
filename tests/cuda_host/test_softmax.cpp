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
class CudaHostSoftmax : public KernelTest {};
TYPED_TEST_SUITE(CudaHostSoftmax, FloatTypes);

TYPED_TEST(CudaHostSoftmax, ForwardAndBackwardMatchCpu) {
  using T = TypeParam;
  // Rows shorter than a warp, not a multiple of one, and longer than a block (a thread takes several).
  for (const int64_t n : {5, 77, 700}) {
    SCOPED_TRACE(n);
    const int64_t rows = 6;
    KernelVector<T> x = uniform<T>(rows * n, 11, -6, 6);
    for (int64_t i = 0; i < n; ++i) x[i] = -std::numeric_limits<T>::infinity();  // a fully masked row
    x[n + 1] = -std::numeric_limits<T>::infinity();                               // one masked entry
    const KernelVector<T> dy = uniform<T>(rows * n, 12);
    for (const bool log : {false, true}) {
      SCOPED_TRACE(log);
      KernelVector<T> y_cpu(rows * n), y_gpu(rows * n);
      kernels::softmax_rows<T>(x.data(), rows, n, y_cpu.data(), log);
      cuda::softmax_rows<T>(x.data(), rows, n, y_gpu.data(), log, kStream);
      EXPECT_TRUE(all_close(y_gpu, y_cpu));

      // The backward on rows without -inf (the CPU's autograd would give NaN * 0 there).
      const KernelVector<T> finite_x(x.begin() + 2 * n, x.end());
      const int64_t finite_rows = rows - 2;
      Tensor xt = tensor_from(finite_x, {finite_rows, n}).set_requires_grad();
      const Tensor yt = log ? log_softmax(xt, -1) : softmax(xt, -1);
      yt.backward(tensor_from(KernelVector<T>(dy.begin() + 2 * n, dy.end()), {finite_rows, n}));
      KernelVector<T> dx_gpu(finite_rows * n);
      const std::vector<T> y_host = yt.template to_vector<T>();
      const KernelVector<T> y_finite(y_host.begin(), y_host.end());
      cuda::softmax_rows_backward<T>(y_finite.data(), dy.data() + 2 * n, finite_rows, n, dx_gpu.data(), log, kStream);
      EXPECT_TRUE(all_close(dx_gpu, xt.grad().template to_vector<T>()));
    }
  }
}

TYPED_TEST(CudaHostSoftmax, ReductionsAlongAnAxisMatchCpu) {
  using T = TypeParam;
  const int64_t a = 3, b = 70, c = 4;
  KernelVector<T> x = uniform<T>(a * b * c, 13, -3, 3);
  x[5 * c + 1] = x[9 * c + 1];  // a tie: the first occurrence wins
  const Tensor xt = tensor_from(x, {a, b, c});
  // Axis 1 with inner 4 (a thread per slice), axis 2 and the last axis of [a*b, c] (a block per row).
  struct Case {
    int axis;
    int64_t outer, len, inner;
  };
  for (const Case k : {Case{1, a, b, c}, Case{2, a * b, c, 1}, Case{0, 1, a, b * c}}) {
    SCOPED_TRACE(k.axis);
    const int64_t n = k.outer * k.inner;
    KernelVector<T> sums(n), maxes(n), lses(n);
    KernelVector<int64_t> arg(n);
    cuda::sum_along<T>(k.outer, k.len, k.inner, x.data(), sums.data(), kStream);
    cuda::max_along<T>(k.outer, k.len, k.inner, x.data(), maxes.data(), arg.data(), kStream);
    cuda::logsumexp_along<T>(k.outer, k.len, k.inner, x.data(), lses.data(), kStream);
    EXPECT_TRUE(all_close(sums, attnscale::sum(xt, {k.axis}).template to_vector<T>()));
    EXPECT_TRUE(all_close(maxes, attnscale::max(xt, k.axis).template to_vector<T>()));
    EXPECT_EQ(host_copy(arg), attnscale::argmax(xt, k.axis).template to_vector<int64_t>());
    EXPECT_TRUE(all_close(lses, attnscale::logsumexp(xt, k.axis).template to_vector<T>()));
  }
  // A long contiguous row: the block-per-row path with several elements per thread.
  const KernelVector<T> row = uniform<T>(1000, 14, -3, 3);
  const Tensor rt = tensor_from(row, {1, 1000});
  KernelVector<T> s(1), m(1), l(1);
  KernelVector<int64_t> i(1);
  cuda::sum_along<T>(1, 1000, 1, row.data(), s.data(), kStream);
  cuda::max_along<T>(1, 1000, 1, row.data(), m.data(), i.data(), kStream);
  cuda::logsumexp_along<T>(1, 1000, 1, row.data(), l.data(), kStream);
  EXPECT_TRUE(all_close(s, attnscale::sum(rt, {1}).template to_vector<T>()));
  EXPECT_TRUE(all_close(m, attnscale::max(rt, 1).template to_vector<T>()));
  EXPECT_TRUE(all_close(l, attnscale::logsumexp(rt, 1).template to_vector<T>()));
  EXPECT_EQ(i[0], attnscale::argmax(rt, 1).template to_vector<int64_t>()[0]);
}

}  // namespace
}  // namespace attnscale::test

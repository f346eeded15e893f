// kernels/cuda/indexing.cu on the host emulator against kernels/cpu/indexing.cpp: the embedding
// lookup (index_select) and its backward (index_add), gather / scatter_add, index validation,
// concat's row copies and where.
#include <vector>

#include "kernels/cuda/indexing.h"
#include "kernels/indexing.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {
namespace {

template <typename T>
class CudaHostIndexing : public KernelTest {};
TYPED_TEST_SUITE(CudaHostIndexing, FloatTypes);

TYPED_TEST(CudaHostIndexing, EmbeddingLookupAndBackwardMatchCpu) {
  using T = TypeParam;
  // A [2, 10, 6] table read at 7 indices with repeats (their gradients add up).
  const int64_t outer = 2, len = 10, inner = 6, count = 7;
  const KernelVector<int64_t> index = {3, 0, 9, 3, 3, 7, 0};
  const KernelVector<T> table = uniform<T>(outer * len * inner, 51), grad = uniform<T>(outer * count * inner, 52);
  KernelVector<T> cpu(outer * count * inner), gpu(outer * count * inner);
  kernels::index_select<T>(outer, len, inner, table.data(), count, index.data(), cpu.data());
  cuda::index_select<T>(outer, len, inner, table.data(), count, index.data(), gpu.data(), kStream);
  EXPECT_EQ(gpu, cpu);

  KernelVector<T> acc_cpu = uniform<T>(outer * len * inner, 53), acc_gpu = acc_cpu;
  kernels::index_add<T>(outer, len, inner, acc_cpu.data(), count, index.data(), grad.data());
  cuda::index_add<T>(outer, len, inner, acc_gpu.data(), count, index.data(), grad.data(), kStream);
  EXPECT_TRUE(all_close(acc_gpu, acc_cpu));
}

TYPED_TEST(CudaHostIndexing, GatherAndScatterAddMatchCpu) {
  using T = TypeParam;
  const int64_t outer = 3, len = 5, inner = 4, count = 6;
  KernelVector<int64_t> index(outer * count * inner);
  for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<int64_t>((i * 7 + 3) % len);
  const KernelVector<T> x = uniform<T>(outer * len * inner, 54), src = uniform<T>(outer * count * inner, 55);
  KernelVector<T> cpu(outer * count * inner), gpu(outer * count * inner);
  kernels::gather<T>(outer, len, inner, x.data(), count, index.data(), cpu.data());
  cuda::gather<T>(outer, len, inner, x.data(), count, index.data(), gpu.data(), kStream);
  EXPECT_EQ(gpu, cpu);

  KernelVector<T> acc_cpu(outer * len * inner, T(0)), acc_gpu = acc_cpu;
  kernels::scatter_add<T>(outer, len, inner, acc_cpu.data(), count, index.data(), src.data());
  cuda::scatter_add<T>(outer, len, inner, acc_gpu.data(), count, index.data(), src.data(), kStream);
  EXPECT_TRUE(all_close(acc_gpu, acc_cpu));
}

TYPED_TEST(CudaHostIndexing, CopyRowsIntoASlabMatchesCpu) {
  using T = TypeParam;
  // concat's step: a [4, 3 * 5] part written at offset 2 * 5 into rows of an [4, 9 * 5] output.
  const int64_t rows = 4, row_len = 15, dst_stride = 45;
  const KernelVector<T> src = uniform<T>(rows * row_len, 56);
  KernelVector<T> cpu = uniform<T>(rows * dst_stride, 57), gpu = cpu;
  kernels::copy_rows<T>(rows, row_len, src.data(), row_len, cpu.data() + 10, dst_stride);
  cuda::copy_rows<T>(rows, row_len, src.data(), row_len, gpu.data() + 10, dst_stride, kStream);
  EXPECT_EQ(gpu, cpu);
}

TYPED_TEST(CudaHostIndexing, WhereWithBroadcastMatchesCpu) {
  using T = TypeParam;
  // cond [3, 1] (int64 and float), a [3, 4] read transposed from [4, 3] storage, b a scalar.
  const int64_t shape[] = {3, 4}, cond_strides[] = {1, 0}, a_strides[] = {1, 3}, b_strides[] = {0, 0};
  const KernelVector<int64_t> cond_i = {1, 0, 7};
  const KernelVector<T> cond_f = {T(0), T(-0.5), T(1)}, a = uniform<T>(12, 58), b = {T(-1e9)};
  KernelVector<T> cpu(12), gpu(12);
  kernels::where<T, int64_t>(2, shape, cond_i.data(), cond_strides, a.data(), a_strides, b.data(), b_strides,
                             cpu.data());
  cuda::where<T, int64_t>(2, shape, cond_i.data(), cond_strides, a.data(), a_strides, b.data(), b_strides, gpu.data(),
                          kStream);
  EXPECT_EQ(gpu, cpu);
  kernels::where<T, T>(2, shape, cond_f.data(), cond_strides, a.data(), a_strides, b.data(), b_strides, cpu.data());
  cuda::where<T, T>(2, shape, cond_f.data(), cond_strides, a.data(), a_strides, b.data(), b_strides, gpu.data(),
                    kStream);
  EXPECT_EQ(gpu, cpu);
}

class CudaHostIndexingInt : public KernelTest {};

TEST_F(CudaHostIndexingInt, IntegerGatherSelectAndScatterAddMatchCpu) {
  // [2, 4, 3] int64 data (ids, positions); scatter_add with repeated indices and negative values.
  const int64_t outer = 2, len = 4, inner = 3, count = 5;
  KernelVector<int64_t> x(outer * len * inner), index(outer * count * inner);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int64_t>(i * i) - 40;
  for (size_t i = 0; i < index.size(); ++i) index[i] = static_cast<int64_t>((i * 5 + 1) % len);
  KernelVector<int64_t> cpu(outer * count * inner), gpu(outer * count * inner);
  kernels::gather<int64_t>(outer, len, inner, x.data(), count, index.data(), cpu.data());
  cuda::gather<int64_t>(outer, len, inner, x.data(), count, index.data(), gpu.data(), kStream);
  EXPECT_EQ(gpu, cpu);
  kernels::index_select<int64_t>(outer, len, inner, x.data(), 3, index.data(), cpu.data());
  cuda::index_select<int64_t>(outer, len, inner, x.data(), 3, index.data(), gpu.data(), kStream);
  EXPECT_EQ(gpu, cpu);
  KernelVector<int64_t> acc_cpu = x, acc_gpu = x;
  kernels::scatter_add<int64_t>(outer, len, inner, acc_cpu.data(), count, index.data(), cpu.data());
  cuda::scatter_add<int64_t>(outer, len, inner, acc_gpu.data(), count, index.data(), cpu.data(), kStream);
  EXPECT_EQ(acc_gpu, acc_cpu);
}

class CudaHostIndexingValidation : public KernelTest {};

TEST_F(CudaHostIndexingValidation, FirstIndexOutOfRangeMatchesCpu) {
  const std::vector<KernelVector<int64_t>> cases = {
      {0, 1, 2, 3}, {0, 5, 1, -100, 7, -1}, {-100, -100}, {}, KernelVector<int64_t>(700, 1)};
  for (KernelVector<int64_t> index : cases) {
    if (index.size() == 700) index[650] = 4, index[690] = -2;
    for (const int64_t ignored : {kernels::kNoIgnoredIndex, int64_t{-100}}) {
      KernelVector<int64_t> gpu(1, 12345);
      cuda::find_index_out_of_range(static_cast<int64_t>(index.size()), index.data(), 4, ignored, gpu.data(),
                                    kStream);
      EXPECT_EQ(gpu[0], kernels::find_index_out_of_range(static_cast<int64_t>(index.size()), index.data(), 4, ignored));
    }
  }
}

}  // namespace
}  // namespace attnscale::test

// kernels/cuda/attention.cu on a real GPU against the CPU kernels on the same inputs (label gpu):
// the cases of tests/cuda_host/test_attention.cpp at lengths the emulator is too slow for. Every
// test skips, saying why, when no CUDA device is usable.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cuda/attention.h"
#include "tests/cuda_host/attention_compare.h"

namespace attnscale::test {
namespace {

// Why no GPU can be used, or empty when one can.
std::string no_gpu_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) return cudaGetErrorString(status);
  return count == 0 ? "no CUDA device" : "";
}

#define SKIP_WITHOUT_GPU()                                         \
  do {                                                             \
    const std::string reason = no_gpu_reason();                    \
    if (!reason.empty()) GTEST_SKIP() << "no GPU: " << reason;     \
  } while (0)

void check(cudaError_t status, const char* what) {
  EXPECT_EQ(status, cudaSuccess) << what << ": " << cudaGetErrorString(status);
}

// A device copy of a host vector.
template <typename T>
class DeviceVector {
 public:
  explicit DeviceVector(const std::vector<T>& host) : size_(host.size()) {
    check(cudaMalloc(reinterpret_cast<void**>(&data_), std::max<size_t>(size_, 1) * sizeof(T)),
          "cudaMalloc");
    check(cudaMemcpy(data_, host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice), "to device");
  }
  ~DeviceVector() { cudaFree(data_); }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;
  std::span<T> span() const { return {data_, size_}; }
  std::vector<T> host() const {
    std::vector<T> out(size_);
    check(cudaMemcpy(out.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost), "to host");
    return out;
  }

 private:
  T* data_ = nullptr;
  size_t size_;
};

template <typename T>
KernelResult<T> run_gpu(const AttentionCase& c, const CaseData& data) {
  auto params = c.params();
  const DeviceVector<int32_t> q_segment(c.mask.q_segment), k_segment(c.mask.k_segment),
      k_valid(c.mask.k_valid);
  if (!c.mask.q_segment.empty()) {
    params.mask.q_segment = q_segment.span();
    params.mask.k_segment = k_segment.span();
  }
  if (!c.mask.k_valid.empty()) params.mask.k_valid = k_valid.span();
  const AttentionShape& s = c.shape;
  const DeviceVector<T> q(cast<T>(data.q)), k(cast<T>(data.k)), v(cast<T>(data.v)),
      dout(cast<T>(data.dout)), out(std::vector<T>(s.out_size(), T(7))),
      lse(std::vector<T>(s.rows(), T(7))), delta(std::vector<T>(s.rows())),
      dq(std::vector<T>(s.q_size(), T(7))), dk(std::vector<T>(s.k_size(), T(7))),
      dv(std::vector<T>(s.v_size(), T(7)));
  cuda::attention_forward<T>(params, {q.span(), k.span(), v.span(), out.span(), lse.span()},
                             nullptr);
  cuda::attention_delta<T>(dout.span(), out.span(), s.value_dim, delta.span(), nullptr);
  cuda::attention_backward<T>(params,
                              {q.span(), k.span(), v.span(), dout.span(), lse.span(), delta.span(),
                               dq.span(), dk.span(), dv.span()},
                              nullptr);
  check(cudaDeviceSynchronize(), "kernels");
  return {out.host(), lse.host(), dq.host(), dk.host(), dv.host()};
}

template <typename T>
void check_against_cpu(const AttentionCase& c) {
  const CaseData data = make_data(c);
  const KernelResult<T> gpu = run_gpu<T>(c, data), cpu = run_kernels<T>(c, data);
  expect_same_results(gpu, cpu,
                      sizeof(T) == 4 ? Tolerance{2e-4, 2e-5} : Tolerance{1e-10, 1e-12});
}

template <typename T>
class GpuAttention : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GpuAttention, FloatTypes);

TYPED_TEST(GpuAttention, CausalGqaUnevenLengths) {
  SKIP_WITHOUT_GPU();
  AttentionCase c;
  c.shape = AttentionShape{2, 8, 2, 1000, 1100, 64, 64};
  c.mask.causal = true;
  c.q_offset = 100;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(GpuAttention, WindowSegmentsAndPadding) {
  SKIP_WITHOUT_GPU();
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 4, 777, 777, 32, 48};
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{200}, int64_t{0});
  c.mask.q_segment.resize(2 * 777);
  for (int64_t i = 0; i < 2 * 777; ++i) c.mask.q_segment[i] = static_cast<int32_t>((i % 777) / 300);
  c.mask.k_segment = c.mask.q_segment;
  c.mask.k_valid.assign(2 * 777, 1);
  for (int64_t j = 700; j < 777; ++j) c.mask.k_valid[j] = 0;
  check_against_cpu<TypeParam>(c);
}

TYPED_TEST(GpuAttention, BlockSparseAndFullyMaskedRows) {
  SKIP_WITHOUT_GPU();
  AttentionCase c;
  c.shape = AttentionShape{1, 2, 1, 1024, 1024, 64, 64};
  const auto pattern = kernels::BlockPattern::bigbird(64, 16, 1, 1, 2, 7);
  c.mask.block_size = 64;
  c.mask.block_rows = c.mask.block_cols = 16;
  c.mask.blocks.assign(pattern.allowed().begin(), pattern.allowed().end());
  c.mask.causal = true;
  c.q_offset = -100;  // the first 100 queries see no key
  check_against_cpu<TypeParam>(c);
}

TEST(GpuAttentionFloat, HeadDim128Causal) {
  SKIP_WITHOUT_GPU();
  AttentionCase c;
  c.shape = AttentionShape{1, 4, 4, 1024, 1024, 128, 128};
  c.mask.causal = true;
  check_against_cpu<float>(c);
}

}  // namespace
}  // namespace attnscale::test

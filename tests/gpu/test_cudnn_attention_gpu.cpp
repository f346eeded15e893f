// cuDNN's fused attention (kernels/cuda/cudnn_attention.h) executed on a GPU against our CPU kernel
// on the same bf16/fp16-rounded inputs: out, lse and every gradient, failing on NaN (label gpu;
// skips, saying why, without a usable GPU). Built with cuDNN and its frontend headers.
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "kernels/attention_kernel.h"
#include "kernels/cuda/cudnn_attention.h"
#include "tests/cuda_host/cuda_host_test_util.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {
namespace {

using kernels::AttentionDType;

template <typename H>
constexpr AttentionDType dtype_of_half() {
  return std::is_same_v<H, __nv_bfloat16> ? AttentionDType::bf16 : AttentionDType::f16;
}

template <typename H>
H to_half(double x) {
  if constexpr (std::is_same_v<H, __nv_bfloat16>) return __float2bfloat16(static_cast<float>(x));
  else return __float2half(static_cast<float>(x));
}

template <typename H>
float to_float(H x) {
  if constexpr (std::is_same_v<H, __nv_bfloat16>) return __bfloat162float(x);
  else return __half2float(x);
}

// Rounds every input to H, so that both sides see the same numbers.
template <typename H>
void round_inputs(CaseData& data) {
  for (std::vector<double>* v : {&data.q, &data.k, &data.v, &data.dout})
    for (double& x : *v) x = to_float(to_half<H>(x));
}

template <typename H>
KernelVector<H> device_half(const std::vector<double>& v) {
  KernelVector<H> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](double x) { return to_half<H>(x); });
  return out;
}

template <typename H>
std::vector<float> host_float(const KernelVector<H>& v) {
  std::vector<float> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](H x) { return to_float(x); });
  return out;
}

kernels::SmVersion current_sm() {
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) return 0;
  return prop.major * 10 + prop.minor;
}

template <typename H>
KernelResult<float> run_cudnn(const AttentionCase& c, const CaseData& data) {
  const kernels::AttentionParams params = c.params();
  const kernels::SmVersion sm = current_sm();
  const kernels::CudnnFit fit = kernels::cudnn_attention_fit(params, dtype_of_half<H>(), sm);
  if (!fit.fits()) {
    ADD_FAILURE() << "cuDNN refuses the case: " << fit.reason;
    return {};
  }
  const AttentionShape& s = c.shape;
  const KernelVector<H> q = device_half<H>(data.q), k = device_half<H>(data.k), v = device_half<H>(data.v),
                        dout = device_half<H>(data.dout);
  KernelVector<H> out(s.out_size()), dq(s.q_size()), dk(s.k_size()), dv(s.v_size());
  KernelVector<float> lse(s.rows(), 7.0f);
  cuda::CudnnAttention cudnn;
  const auto forward = cuda::sdpa_graph_key(cuda::SdpaDirection::forward, params, dtype_of_half<H>(), sm, fit.mask);
  const auto backward = cuda::sdpa_graph_key(cuda::SdpaDirection::backward, params, dtype_of_half<H>(), sm, fit.mask);
  KernelVector<std::byte> workspace(std::max(cudnn.workspace_bytes(forward), cudnn.workspace_bytes(backward)));
  cudnn.forward(forward, {q.data(), k.data(), v.data(), out.data(), lse.data(), fit.k_lengths}, workspace, kStream);
  cudnn.backward(backward,
                 {q.data(), k.data(), v.data(), out.data(), dout.data(), lse.data(), dq.data(), dk.data(), dv.data(),
                  fit.k_lengths},
                 workspace, kStream);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudnn.cached_graphs(), 2u);
  return {host_float(out), std::vector<float>(lse.begin(), lse.end()), host_float(dq), host_float(dk),
          host_float(dv)};
}

// cuDNN in H against our fp32 CPU kernel on the H-rounded inputs.
template <typename H>
void check_cudnn_against_cpu(const AttentionCase& c) {
  CaseData data = make_data(c);
  round_inputs<H>(data);
  const KernelResult<float> cpu = run_kernels<float>(c, data), gpu = run_cudnn<H>(c, data);
  // bf16 keeps 8 mantissa bits, fp16 11: cuDNN rounds P to H before P.V and dP.
  const Tolerance tol = std::is_same_v<H, __nv_bfloat16> ? Tolerance{3e-2, 2e-2} : Tolerance{5e-3, 3e-3};
  EXPECT_TRUE(all_close(gpu.out, cpu.out, tol)) << "out";
  EXPECT_TRUE(all_close(gpu.lse, cpu.lse, Tolerance{1e-3, 1e-3})) << "lse";
  EXPECT_TRUE(all_close(gpu.dq, cpu.dq, tol)) << "dq";
  EXPECT_TRUE(all_close(gpu.dk, cpu.dk, tol)) << "dk";
  EXPECT_TRUE(all_close(gpu.dv, cpu.dv, tol)) << "dv";
}

class GpuCudnnAttention : public KernelTest {};

TEST_F(GpuCudnnAttention, CausalGqaBf16AtALengthNotAMultipleOf128) {
  AttentionCase c;
  c.shape = AttentionShape{2, 8, 2, 1000, 1000, 128, 128};
  c.mask.causal = true;
  check_cudnn_against_cpu<__nv_bfloat16>(c);
}

TEST_F(GpuCudnnAttention, SlidingWindowWithKeyPaddingFp16) {
  AttentionCase c;
  c.shape = AttentionShape{2, 4, 4, 777, 777, 64, 64};
  c.mask.causal = true;
  c.mask.window = std::make_pair(int64_t{255}, int64_t{0});
  c.mask.k_valid.assign(2 * 777, 1);
  std::fill(c.mask.k_valid.begin() + 700, c.mask.k_valid.begin() + 777, 0);
  check_cudnn_against_cpu<__half>(c);
}

TEST_F(GpuCudnnAttention, CausalLaterQueryShardBf16) {
  AttentionCase c;
  c.shape = AttentionShape{1, 4, 1, 500, 1500, 64, 64};
  c.mask.causal = true;
  c.q_offset = 1000;
  check_cudnn_against_cpu<__nv_bfloat16>(c);
}

}  // namespace
}  // namespace attnscale::test
#endif  // ATTNSCALE_HAVE_CUDNN_FRONTEND

// The CUDA attention kernels on an AttentionCase (tests/kernels/attention_case.h) and their results
// against the CPU kernels' on the same inputs: every output and gradient, failing on NaN. Used by
// tests/cuda_host/test_attention.cpp (on the emulator, and again in test_gpu on a GPU) and by
// tests/gpu/test_attention_gpu.cpp (lengths the emulator is too slow for).
#pragma once

#include <vector>

#include "kernels/cuda/attention.h"
#include "tests/cuda_host/cuda_host_test_util.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {

template <typename T>
KernelVector<T> kernel_copy(const std::vector<T>& v) {
  return KernelVector<T>(v.begin(), v.end());
}

// The case's per-token mask arrays where the kernels can read them.
struct KernelMaskArrays {
  KernelVector<int32_t> q_segment, k_segment, k_valid;

  explicit KernelMaskArrays(const MaskCase& mask)
      : q_segment(kernel_copy(mask.q_segment)), k_segment(kernel_copy(mask.k_segment)),
        k_valid(kernel_copy(mask.k_valid)) {}
  // params' mask spans pointed at these arrays (the case's own are host memory).
  void bind(kernels::Mask& mask) const {
    if (!q_segment.empty()) {
      mask.q_segment = {q_segment.data(), q_segment.size()};
      mask.k_segment = {k_segment.data(), k_segment.size()};
    }
    if (!k_valid.empty()) mask.k_valid = {k_valid.data(), k_valid.size()};
  }
};

// forward, delta and backward of the CUDA launchers on the case's inputs.
template <typename T>
KernelResult<T> run_cuda(const AttentionCase& c, const CaseData& data) {
  auto params = c.params();
  const KernelMaskArrays mask(c.mask);
  mask.bind(params.mask);
  const AttentionShape& s = c.shape;
  const KernelVector<T> q = kernel_copy(cast<T>(data.q)), k = kernel_copy(cast<T>(data.k)),
                        v = kernel_copy(cast<T>(data.v)), dout = kernel_copy(cast<T>(data.dout));
  // Garbage to start with: the kernels must overwrite it.
  KernelVector<T> out(s.out_size(), T(7)), lse(s.rows(), T(7)), delta(s.rows(), T(7)),
      dq(s.q_size(), T(7)), dk(s.k_size(), T(7)), dv(s.v_size(), T(7));
  cuda::attention_forward<T>(params, {q, k, v, out, lse}, kStream);
  cuda::attention_delta<T>(dout, out, s.value_dim, delta, kStream);
  cuda::attention_backward<T>(params, {q, k, v, dout, lse, delta, dq, dk, dv}, kStream);
  return {host_copy(out), host_copy(lse), host_copy(dq), host_copy(dk), host_copy(dv)};
}

template <typename T>
void expect_same_results(const KernelResult<T>& cuda, const KernelResult<T>& cpu, Tolerance tol) {
  EXPECT_TRUE(all_close(cuda.out, cpu.out, tol)) << "out";
  EXPECT_TRUE(all_close(cuda.lse, cpu.lse, tol)) << "lse";
  EXPECT_TRUE(all_close(cuda.dq, cpu.dq, tol)) << "dq";
  EXPECT_TRUE(all_close(cuda.dk, cpu.dk, tol)) << "dk";
  EXPECT_TRUE(all_close(cuda.dv, cpu.dv, tol)) << "dv";
}

template <typename T>
constexpr Tolerance attention_tolerance() {
  return sizeof(T) == 4 ? Tolerance{1e-4, 1e-5} : Tolerance{1e-11, 1e-12};
}

// The CUDA kernels and the CPU kernels on the same inputs; returns the CUDA results.
template <typename T>
KernelResult<T> check_against_cpu(const AttentionCase& c,
                                  Tolerance tol = attention_tolerance<T>()) {
  const CaseData data = make_data(c);
  KernelResult<T> cuda = run_cuda<T>(c, data);
  expect_same_results(cuda, run_kernels<T>(c, data), tol);
  return cuda;
}

}  // namespace attnscale::test

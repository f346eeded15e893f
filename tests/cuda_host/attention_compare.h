// The CUDA attention kernels' results against the CPU kernels' (tests/cuda_host on the emulator,
// tests/gpu on a GPU): every output and gradient, failing on NaN.
#pragma once

#include "tests/cuda_host/cuda_host_test_util.h"
#include "tests/kernels/attention_case.h"

namespace attnscale::test {

template <typename T>
void expect_same_results(const KernelResult<T>& cuda, const KernelResult<T>& cpu, Tolerance tol) {
  EXPECT_TRUE(all_close(cuda.out, cpu.out, tol)) << "out";
  EXPECT_TRUE(all_close(cuda.lse, cpu.lse, tol)) << "lse";
  EXPECT_TRUE(all_close(cuda.dq, cpu.dq, tol)) << "dq";
  EXPECT_TRUE(all_close(cuda.dk, cpu.dk, tol)) << "dk";
  EXPECT_TRUE(all_close(cuda.dv, cpu.dv, tol)) << "dv";
}

}  // namespace attnscale::test

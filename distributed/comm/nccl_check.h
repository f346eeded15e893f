// Checked CUDA and NCCL calls for the NCCL backend (compiled only with CUDA):
// ATTNSCALE_NCCL_CHECK(ncclAllReduce(...)) throws RuntimeFailure
// "[nccl] ncclAllReduce(...) failed at FILE:LINE: <ncclGetErrorString>".
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

namespace attnscale {

[[noreturn]] void throw_cuda_error(const char* call, const char* file, int line, cudaError_t code);
[[noreturn]] void throw_nccl_error(const char* call, const char* file, int line, ncclResult_t code);

}  // namespace attnscale

#define ATTNSCALE_NCCL_CHECK(call)                                                  \
  do {                                                                              \
    const ncclResult_t attnscale_nccl_rc_ = (call);                                 \
    if (attnscale_nccl_rc_ != ncclSuccess)                                          \
      ::attnscale::throw_nccl_error(#call, __FILE__, __LINE__, attnscale_nccl_rc_); \
  } while (0)

#define ATTNSCALE_COMM_CUDA_CHECK(call)                                             \
  do {                                                                              \
    const cudaError_t attnscale_cuda_rc_ = (call);                                  \
    if (attnscale_cuda_rc_ != cudaSuccess)                                          \
      ::attnscale::throw_cuda_error(#call, __FILE__, __LINE__, attnscale_cuda_rc_); \
  } while (0)

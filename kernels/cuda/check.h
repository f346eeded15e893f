// Checked CUDA runtime calls: ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(...)) throws
// attnscale::RuntimeFailure "[cuda] <call> failed: <error name>: <description> (file:line)".
// The throwing half lives in check.cpp (a host compiler's file) so kernel sources need no fmt.
#pragma once

#include <cuda_runtime_api.h>

namespace attnscale::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);

}  // namespace attnscale::cuda

#define ATTNSCALE_CUDA_CHECK(call)                                                      \
  do {                                                                                  \
    const cudaError_t attnscale_cuda_status = (call);                                   \
    if (attnscale_cuda_status != cudaSuccess)                                           \
      ::attnscale::cuda::throw_cuda_error(attnscale_cuda_status, #call, __FILE__, __LINE__); \
  } while (0)

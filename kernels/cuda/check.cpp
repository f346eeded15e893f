#include "kernels/cuda/check.h"

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw RuntimeFailure(fmt::format("[cuda] {} failed: {}: {} ({}:{})", call, cudaGetErrorName(status),
                                   cudaGetErrorString(status), file, line));
}

}  // namespace attnscale::cuda

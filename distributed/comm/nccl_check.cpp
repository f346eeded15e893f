#include "distributed/comm/nccl_check.h"

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale {

void throw_cuda_error(const char* call, const char* file, int line, cudaError_t code) {
  throw RuntimeFailure(fmt::format("[cuda] {} failed at {}:{}: {} ({})", call, file, line,
                                   cudaGetErrorString(code), cudaGetErrorName(code)));
}

void throw_nccl_error(const char* call, const char* file, int line, ncclResult_t code) {
  throw RuntimeFailure(fmt::format("[nccl] {} failed at {}:{}: {}", call, file, line, ncclGetErrorString(code)));
}

}  // namespace attnscale

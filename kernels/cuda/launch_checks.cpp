#include "kernels/cuda/launch_checks.h"

#include "base/error.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

void check_dims(const char* where, int ndim, int max_dims) {
  if (ndim < 0 || ndim > max_dims)
    throw UsageError(fmt::format("[cuda {}] {} axes, at most {} are supported", where, ndim, max_dims));
}

void check_limit(const char* where, const char* what, int64_t value, int64_t limit) {
  if (value > limit)
    throw UsageError(fmt::format("[cuda {}] {} = {} exceeds the kernel's limit {}", where, what, value, limit));
}

void check_argument(bool ok, const char* where, const char* message) {
  if (!ok) throw UsageError(fmt::format("[cuda {}] {}", where, message));
}

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

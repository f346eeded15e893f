#include "kernels/cuda/blas.h"

#include <limits>
#include <type_traits>

#include <cublas_v2.h>
#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::cuda {
namespace {

// Throws RuntimeFailure "[cublas] <call> failed: <status name> (file:line)".
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw RuntimeFailure(fmt::format("[cublas] {} failed: {}: {} ({}:{})", call, cublasGetStatusName(status),
                                   cublasGetStatusString(status), file, line));
}

#define ATTNSCALE_CUBLAS_CHECK(call)                                                             \
  do {                                                                                           \
    const cublasStatus_t attnscale_cublas_status = (call);                                       \
    if (attnscale_cublas_status != CUBLAS_STATUS_SUCCESS)                                        \
      ::attnscale::cuda::throw_cublas_error(attnscale_cublas_status, #call, __FILE__, __LINE__); \
  } while (0)

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw UsageError(fmt::format("[cublas] {} = {} is outside cuBLAS's 32-bit range", what, v));
  return static_cast<int>(v);
}

}  // namespace

void Blas::Destroy::operator()(cublasContext* handle) const { cublasDestroy(handle); }

Blas::Blas(bool allow_tf32) : allow_tf32_(allow_tf32) {
  cublasHandle_t handle = nullptr;
  ATTNSCALE_CUBLAS_CHECK(cublasCreate(&handle));
  handle_.reset(handle);
}

template <typename T>
void Blas::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc, Stream stream) {
  if (m == 0 || n == 0) return;
  constexpr bool kFloat = std::is_same_v<T, float>;
  const cudaDataType_t type = kFloat ? CUDA_R_32F : CUDA_R_64F;
  const cublasComputeType_t compute =
      kFloat ? (allow_tf32_ ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F) : CUBLAS_COMPUTE_64F;
  ATTNSCALE_CUBLAS_CHECK(cublasSetStream(handle_.get(), stream));
  // cuBLAS is column-major: a row-major C (m x n) is a column-major C^T, and
  // C^T = op(B)^T op(A)^T, so B goes first and m, n swap.
  ATTNSCALE_CUBLAS_CHECK(cublasGemmEx(handle_.get(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                      to_int(n, "n"), to_int(m, "m"), to_int(k, "k"), &alpha, b, type,
                                      to_int(ldb, "ldb"), a, type, to_int(lda, "lda"), &beta, c, type,
                                      to_int(ldc, "ldc"), compute, CUBLAS_GEMM_DEFAULT));
}

int Blas::version() {
  int v = 0;
  ATTNSCALE_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &v));
  int minor = 0, patch = 0;
  ATTNSCALE_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &minor));
  ATTNSCALE_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &patch));
  return v * 10000 + minor * 100 + patch;
}

template void Blas::gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t, Stream);
template void Blas::gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t, Stream);

}  // namespace attnscale::cuda

// GEMM on the GPU through cuBLAS (kernels/cuda/blas.cpp), parallel to kernels/gemm.h: row-major
// C = alpha * op(A) op(B) + beta * C with leading dimensions. Compute is fp32 (CUBLAS_COMPUTE_32F)
// for float, so results match an fp32 SGEMM; TF32 tensor cores only when allowed (run.allow_tf32);
// fp64 (CUBLAS_COMPUTE_64F) for double, the gradient-check type. Only with the CUDA toolkit.
#pragma once

#include <cstdint>

#include <cublas_v2.h>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {

// Throws RuntimeFailure "[cublas] <call> failed: <status name> (file:line)".
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line);

#define ATTNSCALE_CUBLAS_CHECK(call)                                                          \
  do {                                                                                        \
    const cublasStatus_t attnscale_cublas_status = (call);                                    \
    if (attnscale_cublas_status != CUBLAS_STATUS_SUCCESS)                                     \
      ::attnscale::cuda::throw_cublas_error(attnscale_cublas_status, #call, __FILE__, __LINE__); \
  } while (0)

// One cuBLAS handle (per device and host thread, as cuBLAS asks). Move-only.
class Blas {
 public:
  explicit Blas(bool allow_tf32 = false);
  ~Blas();
  Blas(Blas&& other) noexcept;
  Blas& operator=(Blas&& other) noexcept;
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  bool allow_tf32() const { return allow_tf32_; }

  // Enqueues the GEMM on `stream`.
  template <typename T>
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
            int64_t ldb, T beta, T* c, int64_t ldc, Stream stream);

  // cuBLAS's version as major * 10000 + minor * 100 + patch (for `attnscale version`).
  static int version();

 private:
  cublasHandle_t handle_ = nullptr;
  bool allow_tf32_ = false;
};

}  // namespace attnscale::cuda

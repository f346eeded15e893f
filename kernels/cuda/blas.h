// GEMM on the GPU through cuBLAS (kernels/cuda/blas.cpp), parallel to kernels/gemm.h: row-major
// C = alpha * op(A) op(B) + beta * C with leading dimensions. Compute is fp32 (CUBLAS_COMPUTE_32F)
// for float, so results match an fp32 SGEMM; TF32 tensor cores only when allowed (run.allow_tf32);
// fp64 (CUBLAS_COMPUTE_64F) for double, the gradient-check type.
//
// In the emulation build (ATTNSCALE_CUDA_EMULATION) kernels/cuda/blas_emulation.cpp computes the same
// GEMM with the CPU's (kernels/gemm.h, always full fp32: TF32 rounding is not emulated) and there is no
// cuBLAS: version() exists only in builds with the CUDA toolkit.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/cuda/stream.h"

struct cublasContext;  // cuBLAS's handle type (cublasHandle_t is cublasContext*)

namespace attnscale::cuda {

// One cuBLAS handle (per device and host thread, as cuBLAS asks). Move-only.
class Blas {
 public:
  explicit Blas(bool allow_tf32 = false);

  bool allow_tf32() const { return allow_tf32_; }
  void set_allow_tf32(bool allow) { allow_tf32_ = allow; }

  // Enqueues the GEMM on `stream`.
  template <typename T>
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
            int64_t ldb, T beta, T* c, int64_t ldc, Stream stream);

#if !defined(ATTNSCALE_CUDA_HOST_EMULATION)
  // cuBLAS's version as major * 10000 + minor * 100 + patch (for `attnscale version`).
  static int version();
#endif

 private:
  struct Destroy {
    void operator()(cublasContext* handle) const;
  };
  std::unique_ptr<cublasContext, Destroy> handle_;  // null in the emulation build
  bool allow_tf32_ = false;
};

}  // namespace attnscale::cuda

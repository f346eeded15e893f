// cuda::Blas in the emulation build (ATTNSCALE_CUDA_EMULATION): the GEMM of kernels/cuda/blas.h
// computed by the CPU GEMM (kernels/gemm.h) on the emulated device's memory, which is host memory.
// There is no cuBLAS here: what this checks is everything around the GEMM (operands, leading
// dimensions, transposes, batching), not cuBLAS itself; allow_tf32 changes nothing (full fp32).
#include "kernels/cuda/blas.h"

#include "kernels/gemm.h"

namespace attnscale::cuda {

void Blas::Destroy::operator()(cublasContext*) const {}

Blas::Blas(bool allow_tf32) : allow_tf32_(allow_tf32) {}

template <typename T>
void Blas::gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc, Stream) {
  if (m == 0 || n == 0) return;
  kernels::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void Blas::gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                                int64_t, float, float*, int64_t, Stream);
template void Blas::gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                 const double*, int64_t, double, double*, int64_t, Stream);

}  // namespace attnscale::cuda

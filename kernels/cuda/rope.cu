// RoPE: one thread per rotated pair; the angle is computed in double from the token's global
// position, as the CPU's tables are.
#include "kernels/cuda/launch_checks.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/cuda/rope.h"
#include "kernels/rope.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void rope_kernel(const T* x, T* y, int64_t rows, int64_t n, int64_t d, const int64_t* positions,
                            double theta, double sign) {
  const int64_t half = d / 2, pairs = rows * n * half;
  for (int64_t e = global_index(); e < pairs; e += global_stride()) {
    const int64_t i = e % half, token = e / half, t = token % n;
    const double angle = kernels::rope_angle(positions[t], i, d, theta);
    const T* xr = x + token * d;
    T* yr = y + token * d;
    kernels::rope_rotate_pair(xr[i], xr[i + half], static_cast<T>(math::cos(angle)),
                              static_cast<T>(sign * math::sin(angle)), yr[i], yr[i + half]);
  }
}

}  // namespace

template <typename T>
void rope_rotate(const T* x, T* y, int64_t rows, int64_t n, int64_t d, const int64_t* positions, double theta,
                 bool inverse, Stream stream) {
  check_argument(d % 2 == 0, "rope", "the last axis must have an even size");
  const int64_t pairs = rows * n * (d / 2);
  if (pairs > 0)
    launch(rope_kernel<T>, blocks_for(pairs, kThreads), kThreads, 0, stream, x, y, rows, n, d, positions, theta,
           inverse ? -1.0 : 1.0);
}

template void rope_rotate<float>(const float*, float*, int64_t, int64_t, int64_t, const int64_t*, double, bool, Stream);
template void rope_rotate<double>(const double*, double*, int64_t, int64_t, int64_t, const int64_t*, double, bool,
                                  Stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

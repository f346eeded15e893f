// Inverted dropout: one thread per Philox block, that is per (group, lane) of kernels/dropout.h.
// The thread's four words decide the four elements q * kDropoutLanes + lane of its group, so
// neighbouring threads write neighbouring elements.
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/dropout.h"
#include "kernels/philox.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void dropout_kernel(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter,
                               uint64_t drop_below, T scale) {
  const int64_t blocks = (n + kernels::kDropoutGroup - 1) / kernels::kDropoutGroup * kernels::kDropoutLanes;
  for (int64_t b = global_index(); b < blocks; b += global_stride()) {
    const int64_t group = b / kernels::kDropoutLanes;
    const int lane = static_cast<int>(b % kernels::kDropoutLanes);
    const auto words = kernels::philox_block(seed, kernels::dropout_counter(first_counter, group, lane));
    for (int q = 0; q < 4; ++q) {
      const int64_t i = group * kernels::kDropoutGroup + q * kernels::kDropoutLanes + lane;
      if (i < n) out[i] = words[q] >= drop_below ? in[i] * scale : T(0);
    }
  }
}

}  // namespace

template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale,
             Stream stream) {
  if (n <= 0) return;
  const int64_t blocks = static_cast<int64_t>(kernels::dropout_counters(n));
  launch(dropout_kernel<T>, blocks_for(blocks, kThreads), kThreads, 0, stream, n, in, out, seed, first_counter,
         drop_below, scale);
}

template void dropout<float>(int64_t, const float*, float*, uint64_t, uint64_t, uint64_t, float, Stream);
template void dropout<double>(int64_t, const double*, double*, uint64_t, uint64_t, uint64_t, double, Stream);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

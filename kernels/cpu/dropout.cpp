#include "kernels/dropout.h"

#include "kernels/cpu/strided_rows.h"
#include "kernels/philox.h"

namespace attnscale::kernels {

template <typename T>
void dropout(int64_t n, const T* in, T* out, uint64_t seed, uint64_t first_counter, uint64_t drop_below, T scale) {
  const int64_t blocks = static_cast<int64_t>(dropout_counters(n));
  // Each block of four elements reads only its own counter, so any split among threads gives the
  // same mask.
#pragma omp parallel for if (n >= kParallelElements) schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const auto words = philox_block(seed, first_counter + static_cast<uint64_t>(blk));
    const int64_t first = blk * 4, count = n - first < 4 ? n - first : 4;
    for (int64_t q = 0; q < count; ++q) out[first + q] = words[q] >= drop_below ? in[first + q] * scale : T(0);
  }
}

template void dropout<float>(int64_t, const float*, float*, uint64_t, uint64_t, uint64_t, float);
template void dropout<double>(int64_t, const double*, double*, uint64_t, uint64_t, uint64_t, double);

}  // namespace attnscale::kernels

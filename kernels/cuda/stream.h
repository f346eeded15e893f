// What a launcher header (kernels/cuda/*.h) needs: the stream type and the ABI namespace.
//
// A launcher is compiled twice: by nvcc into libattnscale (real kernels) and by g++ into
// libattnscale_cuda_host (the same kernel sources on the host emulator, for the cuda_host tests).
// Both define attnscale::cuda::<launcher>; the inline namespace ATTNSCALE_CUDA_ABI (`device` or
// `host_emulation`) keeps their symbols apart, so one program may link both and callers still
// write attnscale::cuda::softmax_rows(...).
#pragma once

#if defined(ATTNSCALE_CUDA_HOST_EMULATION)
namespace attnscale::cuda {
struct EmulatedStream;                // never defined: the emulator runs every launch at once
using Stream = EmulatedStream*;
}  // namespace attnscale::cuda
#define ATTNSCALE_CUDA_ABI host_emulation
#else
#include <cuda_runtime_api.h>
namespace attnscale::cuda {
using Stream = cudaStream_t;
}  // namespace attnscale::cuda
#define ATTNSCALE_CUDA_ABI device
#endif

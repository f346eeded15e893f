// ATTNSCALE_HD marks functions that both backends call: __host__ __device__ under nvcc, nothing
// under a host compiler. Shared per-element math (Philox, the dropout word of an element, mask
// predicates) is written once with it, so the CPU and CUDA kernels cannot drift apart.
#pragma once

#if defined(__CUDACC__)
#define ATTNSCALE_HD __host__ __device__
#else
#define ATTNSCALE_HD
#endif

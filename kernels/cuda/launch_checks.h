// Argument checks of the launchers. Kernel sources compiled by nvcc cannot include fmt, so the
// messages are formatted in launch_checks.cpp (compiled by the host compiler into both libraries).
#pragma once

#include <cstdint>

#include "kernels/cuda/stream.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

// Throws UsageError "[cuda <where>] <ndim> axes, at most <max_dims> are supported" unless 0 <= ndim <= max_dims.
void check_dims(const char* where, int ndim, int max_dims);

// Throws UsageError "[cuda <where>] <what> = <value> exceeds the kernel's limit <limit>" when value > limit.
void check_limit(const char* where, const char* what, int64_t value, int64_t limit);

// Throws UsageError "[cuda <where>] <message>" unless ok.
void check_argument(bool ok, const char* where, const char* message);

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

// The math of rotary position embedding (framework/nn/rope.h), shared by the CPU (tables in
// framework/nn/rope.cpp) and the CUDA kernel (kernels/cuda/rope.cu): pair (i, i + d/2) of a row at
// global position `pos` turns by angle pos * theta^(-2i/d), computed in double.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace attnscale::kernels {

ATTNSCALE_HD inline double rope_angle(int64_t pos, int64_t i, int64_t d, double theta) {
  return static_cast<double>(pos) * pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
}

// Rotates the pair (a, b) by the angle whose cosine and sine are c and s (s negated for the
// inverse rotation, the backward).
template <typename T>
ATTNSCALE_HD inline void rope_rotate_pair(T a, T b, T c, T s, T& out_a, T& out_b) {
  out_a = a * c - b * s;
  out_b = b * c + a * s;
}

}  // namespace attnscale::kernels

// Shapes and strides (in elements).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace attnscale {

using Shape = std::vector<int64_t>;

int64_t numel_of(std::span<const int64_t> shape);
Shape contiguous_strides(std::span<const int64_t> shape);
std::string shape_str(std::span<const int64_t> shape);

// Numpy broadcasting of two shapes; throws UsageError naming `op` and both shapes on mismatch.
Shape broadcast_shapes(std::span<const int64_t> a, std::span<const int64_t> b, const char* op);

// Turns a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int normalize_axis(int64_t axis, int64_t ndim, const char* op);

}  // namespace attnscale

// Element types: f32 for training, bf16 for training in bfloat16 (model.dtype: storage only: ops
// compute in float32, docs/ARCHITECTURE.md "Precision"), f64 for gradient checks, i64 for indices
// and token ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/bf16.h"

namespace attnscale {

enum class DType : uint8_t { f32, f64, i64, bf16 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::bf16: return 2;
    case DType::f32: return 4;
    case DType::f64:
    case DType::i64: return 8;
  }
  return 0;
}
constexpr bool is_floating(DType t) { return t != DType::i64; }
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bf16>() { return DType::bf16; }

}  // namespace attnscale

// Runs the body with `scalar_t` bound to the C++ type of a floating dtype of compute (f32, f64):
// a bf16 tensor is refused here; ops take it through their bf16 path (ops_detail::bf16_in_f32).
#define ATTNSCALE_DISPATCH_FLOAT(dtype, where, ...)                                       \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::attnscale::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }     \
      case ::attnscale::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }    \
      default:                                                                            \
        throw ::attnscale::UsageError(fmt::format("[{}] has no {} kernel (float32, float64)", \
                                                  where, ::attnscale::dtype_name(dtype))); \
    }                                                                                     \
  }()

// Same for every dtype of compute, integers included (not bf16: see above).
#define ATTNSCALE_DISPATCH_ALL(dtype, ...)                                              \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      case ::attnscale::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::attnscale::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }  \
      case ::attnscale::DType::i64: { using scalar_t = int64_t; return __VA_ARGS__(); } \
      case ::attnscale::DType::bf16: break;                                             \
    }                                                                                   \
    throw ::attnscale::UsageError("[dispatch] no kernel for bfloat16 tensors here");   \
  }()

// Element types: f32 for training, f64 for gradient checks, i64 for indices and token ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace attnscale {

enum class DType : uint8_t { f32, f64, i64 };

constexpr size_t dtype_size(DType t) { return t == DType::f32 ? 4 : 8; }
constexpr bool is_floating(DType t) { return t != DType::i64; }
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
  }
  return "?";
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace attnscale

// Runs the body with `scalar_t` bound to the C++ type of a floating dtype.
#define ATTNSCALE_DISPATCH_FLOAT(dtype, where, ...)                                       \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::attnscale::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }     \
      case ::attnscale::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }    \
      default:                                                                            \
        throw ::attnscale::UsageError(fmt::format("[{}] expects a floating tensor, got {}", \
                                                  where, ::attnscale::dtype_name(dtype))); \
    }                                                                                     \
  }()

// Same for every dtype, integers included.
#define ATTNSCALE_DISPATCH_ALL(dtype, ...)                                              \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      case ::attnscale::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::attnscale::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }  \
      case ::attnscale::DType::i64: { using scalar_t = int64_t; return __VA_ARGS__(); } \
    }                                                                                   \
    throw ::attnscale::Error("[dispatch] unknown dtype");                               \
  }()

// The vocabulary of distributed/comm: element types a communicator moves, reduction operators and
// the (value, index) pair of a distributed arg-max. Knows no tensor (DESIGN.md 2b, layer 2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace attnscale {

// Half types travel as 16-bit words: every backend moves them and NCCL reduces them; MPI has no
// 16-bit float type, so MpiCommunicator refuses to reduce them (reduce in f32 instead).
enum class CommDType { u8, i32, i64, u64, f16, bf16, f32, f64 };

constexpr std::size_t dtype_size(CommDType dtype) {
  switch (dtype) {
    case CommDType::u8: return 1;
    case CommDType::f16:
    case CommDType::bf16: return 2;
    case CommDType::i32:
    case CommDType::f32: return 4;
    case CommDType::i64:
    case CommDType::u64:
    case CommDType::f64: return 8;
  }
  return 0;
}

std::string_view dtype_name(CommDType dtype);

// The CommDType of a C++ element type, for the typed (range) overloads of Communicator.
template <class T>
struct CommDTypeOf {};
template <> struct CommDTypeOf<std::uint8_t> { static constexpr CommDType value = CommDType::u8; };
template <> struct CommDTypeOf<std::byte> { static constexpr CommDType value = CommDType::u8; };
template <> struct CommDTypeOf<std::int32_t> { static constexpr CommDType value = CommDType::i32; };
template <> struct CommDTypeOf<std::int64_t> { static constexpr CommDType value = CommDType::i64; };
template <> struct CommDTypeOf<std::uint64_t> { static constexpr CommDType value = CommDType::u64; };
template <> struct CommDTypeOf<float> { static constexpr CommDType value = CommDType::f32; };
template <> struct CommDTypeOf<double> { static constexpr CommDType value = CommDType::f64; };

template <class T>
concept CommElement = requires { CommDTypeOf<std::remove_cv_t<T>>::value; };

template <CommElement T>
inline constexpr CommDType comm_dtype_v = CommDTypeOf<std::remove_cv_t<T>>::value;

enum class ReduceOp { sum, max, min };
std::string_view reduce_op_name(ReduceOp op);

// One element of a distributed arg-max / arg-min (MPI's MAXLOC / MINLOC): the value and where it
// was found (a global position, a vocabulary id). double holds every f32 score exactly.
struct ValueIndex {
  double value = 0;
  std::int64_t index = 0;
  friend bool operator==(const ValueIndex&, const ValueIndex&) = default;
};

// maxloc keeps the largest value, minloc the smallest; equal values keep the smaller index, so the
// result does not depend on the rank count or the reduction order. Values must not be NaN.
enum class LocOp { maxloc, minloc };

// The one definition of the loc reduction, used by every backend that reduces on the host.
constexpr ValueIndex reduce_loc(const ValueIndex& a, const ValueIndex& b, LocOp op) {
  const bool a_wins = op == LocOp::maxloc ? a.value > b.value : a.value < b.value;
  if (a_wins) return a;
  if (a.value == b.value) return a.index <= b.index ? a : b;
  return b;
}

}  // namespace attnscale

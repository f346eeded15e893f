#include "distributed/comm/comm_types.h"

namespace attnscale {

std::string_view dtype_name(CommDType dtype) {
  switch (dtype) {
    case CommDType::u8: return "u8";
    case CommDType::i32: return "i32";
    case CommDType::i64: return "i64";
    case CommDType::u64: return "u64";
    case CommDType::f16: return "f16";
    case CommDType::bf16: return "bf16";
    case CommDType::f32: return "f32";
    case CommDType::f64: return "f64";
  }
  return "?";
}

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
  }
  return "?";
}

}  // namespace attnscale

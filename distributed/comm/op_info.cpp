#include "distributed/comm/op_info.h"

#include <fmt/format.h>

namespace attnscale {

std::string describe(const OpInfo& info) {
  const std::string_view name = op_name(info.kind);
  const std::string_view dtype = dtype_name(info.dtype);
  switch (info.kind) {
    case CommOp::send:
      return fmt::format("send of {} x {} to rank {} (tag {})", info.count, dtype, info.peer, info.tag);
    case CommOp::recv:
      return fmt::format("recv of {} x {} from rank {} (tag {})", info.count, dtype, info.peer, info.tag);
    case CommOp::sendrecv:
      return fmt::format("sendrecv of {} x {} to rank {} and {} x {} from rank {} (tag {})", info.count, dtype,
                         info.peer, info.recv_count, dtype, info.source, info.tag);
    case CommOp::all_reduce:
      return fmt::format("all_reduce ({}) of {} x {}", reduce_op_name(info.reduce), info.count, dtype);
    case CommOp::broadcast:
      return fmt::format("broadcast of {} x {} from rank {}", info.count, dtype, info.peer);
    case CommOp::barrier:
      return "barrier";
    case CommOp::all_reduce_loc:
    case CommOp::all_gather:
    case CommOp::all_gather_v:
    case CommOp::all_to_all:
    case CommOp::all_to_all_v:
      break;
  }
  return fmt::format("{} of {} x {}", name, info.count, dtype);
}

}  // namespace attnscale

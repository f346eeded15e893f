#include "distributed/comm/comm_stats.h"

#include <fmt/format.h>

namespace attnscale {

std::string_view op_name(CommOp op) {
  switch (op) {
    case CommOp::send: return "send";
    case CommOp::recv: return "recv";
    case CommOp::sendrecv: return "sendrecv";
    case CommOp::all_reduce: return "all_reduce";
    case CommOp::all_reduce_loc: return "all_reduce_loc";
    case CommOp::all_gather: return "all_gather";
    case CommOp::all_gather_v: return "all_gather_v";
    case CommOp::all_to_all: return "all_to_all";
    case CommOp::all_to_all_v: return "all_to_all_v";
    case CommOp::broadcast: return "broadcast";
    case CommOp::barrier: return "barrier";
  }
  return "?";
}

OpStats& OpStats::operator+=(const OpStats& other) {
  calls += other.calls;
  bytes_sent += other.bytes_sent;
  bytes_received += other.bytes_received;
  wait_seconds += other.wait_seconds;
  return *this;
}

OpStats CommStats::total() const {
  OpStats sum;
  for (const OpStats& s : per_op_) sum += s;
  return sum;
}

std::string CommStats::summary() const {
  std::string out;
  for (std::size_t i = 0; i < comm_op_count; ++i) {
    const OpStats& s = per_op_[i];
    if (s.calls == 0) continue;
    out += fmt::format("{}: {} calls, {} B sent, {} B received, {:.6f} s waiting\n",
                       op_name(static_cast<CommOp>(i)), s.calls, s.bytes_sent, s.bytes_received,
                       s.wait_seconds);
  }
  return out;
}

}  // namespace attnscale

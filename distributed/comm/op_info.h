// What one communicator operation is, kept with its request so that a timeout or a fault can say
// which operation it was without formatting a string on the fast path.
#pragma once

#include <cstddef>
#include <string>

#include "distributed/comm/comm_stats.h"
#include "distributed/comm/comm_types.h"

namespace attnscale {

struct OpInfo {
  CommOp kind = CommOp::barrier;
  CommDType dtype = CommDType::u8;
  std::size_t count = 0;  // elements of this rank's buffer (for -v variants: elements sent)
  int peer = -1;          // send: destination, recv: source, broadcast: root
  int tag = -1;
  ReduceOp reduce = ReduceOp::sum;  // all_reduce only
  int source = -1;                  // sendrecv: where the incoming message comes from
  std::size_t recv_count = 0;       // sendrecv: elements received
};

// "recv of 1024 x f32 from rank 0 (tag 3)", "all_reduce (sum) of 8 x f64", "barrier".
std::string describe(const OpInfo& info);

}  // namespace attnscale

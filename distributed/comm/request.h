// Request: an operation in flight, owned. Wait for it, test it, or drop it:
//  - wait() polls until done, bounded by the communicator's timeout; on expiry it cancels the
//    operation and throws RuntimeFailure naming the rank, the operation and the step label;
//  - test() and Communicator::progress() drive it without blocking, so a compute loop can make a
//    transfer progress between tiles (DESIGN.md 9: MPI transfers do not progress on their own);
//  - destruction of a pending request waits for it (bounded, as wait()), or, while an exception
//    unwinds, cancels and frees it at once. A request never leaks its transport handle, except a
//    collective that MPI forbids to cancel: that one is kept by its communicator (see PendingOp).
// Time blocked in wait() is added to the communicator's counters (OpStats::wait_seconds).
#pragma once

#include <memory>
#include <span>

#include "distributed/comm/comm_state.h"
#include "distributed/comm/op_info.h"
#include "distributed/comm/pending_op.h"

namespace attnscale {

class Request {
 public:
  Request() = default;  // an empty request: already complete
  Request(std::unique_ptr<PendingOp> op, std::shared_ptr<CommState> state, const OpInfo& info);
  Request(Request&& other) noexcept = default;
  Request& operator=(Request&& other) noexcept;  // finishes this request first, as the destructor
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  bool pending() const { return op_ != nullptr; }
  // Drives the operation; true once it is complete (always for an empty request).
  bool test();
  // Blocks until complete or the communicator's timeout expires (RuntimeFailure).
  void wait();

  // Waits for each request in turn; all share the timeout of their own communicator.
  static void wait_all(std::span<Request> requests);

 private:
  void finish_on_drop() noexcept;
  void release() noexcept;
  void abandon() noexcept;

  std::unique_ptr<PendingOp> op_;
  std::shared_ptr<CommState> state_;
  OpInfo info_;
};

}  // namespace attnscale

// One operation in flight, as a backend sees it. Request (request.h) owns it and implements the
// waiting, the timeout and the bookkeeping once for every backend.
#pragma once

namespace attnscale {

class PendingOp {
 public:
  virtual ~PendingOp() = default;

  // Drives the operation forward; true once it is complete (and on every later call). Throws
  // RuntimeFailure when the transport reports an error.
  virtual bool test() = 0;

  // Gives up on the operation (its wait timed out, or its request was dropped while an exception
  // unwinds): cancels and releases the transport handle. Returns false when the backend cannot
  // cancel this kind of operation (MPI forbids cancelling collectives); the op is then kept as an
  // orphan and its communicator refuses further work.
  virtual bool abandon() noexcept = 0;
};

}  // namespace attnscale

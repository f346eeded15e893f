#include "distributed/comm/mpi_pending_op.h"

#include <chrono>

#include "distributed/comm/mpi_check.h"

namespace attnscale {

MpiPendingOp::~MpiPendingOp() {
  if (kind_ == Kind::point_to_point) abandon();
}

bool MpiPendingOp::test() {
  if (request_ == MPI_REQUEST_NULL) return true;
  int done = 0;
  ATTNSCALE_MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
  return done != 0;
}

bool MpiPendingOp::abandon() noexcept {
  if (request_ == MPI_REQUEST_NULL) return true;
  if (kind_ == Kind::collective) return false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return true;  // nothing left to free
  // An unmatched receive cancels at once; a send that is already matched may not cancel at all,
  // so give it a moment to complete, then free the handle (MPI finishes the transfer itself).
  MPI_Cancel(&request_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  int done = 0;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (MPI_Test(&request_, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
  }
  if (!done && request_ != MPI_REQUEST_NULL) MPI_Request_free(&request_);
  request_ = MPI_REQUEST_NULL;
  return true;
}

}  // namespace attnscale

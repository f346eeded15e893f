#include "distributed/comm/mpi_pending_op.h"

#include <chrono>

#include "base/error.h"
#include "distributed/comm/mpi_check.h"

namespace attnscale {

MpiPendingOp::~MpiPendingOp() {
  if (kind_ == Kind::point_to_point) abandon();
}

MPI_Request* MpiPendingOp::add_request() {
  if (used_ == static_cast<int>(requests_.size())) throw RuntimeFailure("[comm] MpiPendingOp holds two requests at most");
  return &requests_[static_cast<std::size_t>(used_++)];
}

bool MpiPendingOp::test() {
  int done = 0;
  // Completed requests become MPI_REQUEST_NULL, which MPI_Testall treats as complete.
  ATTNSCALE_MPI_CHECK(MPI_Testall(used_, requests_.data(), &done, MPI_STATUSES_IGNORE));
  return done != 0;
}

bool MpiPendingOp::abandon() noexcept {
  bool pending = false;
  for (int i = 0; i < used_; ++i) pending = pending || requests_[static_cast<std::size_t>(i)] != MPI_REQUEST_NULL;
  if (!pending) return true;
  if (kind_ == Kind::collective) return false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return true;  // nothing left to free
  // An unmatched receive cancels at once; a send that is already matched may not cancel at all,
  // so give it a moment to complete, then free the handle (MPI finishes the transfer itself).
  for (int i = 0; i < used_; ++i) {
    MPI_Request& request = requests_[static_cast<std::size_t>(i)];
    if (request == MPI_REQUEST_NULL) continue;
    MPI_Cancel(&request);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    int done = 0;
    while (!done && std::chrono::steady_clock::now() < deadline)
      if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
    if (request != MPI_REQUEST_NULL) MPI_Request_free(&request);
    request = MPI_REQUEST_NULL;
  }
  return true;
}

}  // namespace attnscale

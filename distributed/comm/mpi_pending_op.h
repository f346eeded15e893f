// A PendingOp over one or two MPI_Requests (two for sendrecv). It owns the int count and
// displacement arrays of a -v collective, which MPI reads until the operation completes.
#pragma once

#include <mpi.h>

#include <array>
#include <vector>

#include "distributed/comm/pending_op.h"

namespace attnscale {

class MpiPendingOp final : public PendingOp {
 public:
  enum class Kind { point_to_point, collective };

  explicit MpiPendingOp(Kind kind) : kind_(kind) {}
  // A pending point-to-point request is cancelled and freed; a pending collective cannot be
  // (MPI forbids it) and is never destroyed pending: Request keeps it as an orphan.
  ~MpiPendingOp() override;
  MpiPendingOp(const MpiPendingOp&) = delete;
  MpiPendingOp& operator=(const MpiPendingOp&) = delete;

  // The next request slot to hand to an MPI_I* call (at most two).
  MPI_Request* add_request();
  // Storage for count arrays that must live as long as the operation.
  std::vector<int>& int_args() { return int_args_; }

  bool test() override;
  bool abandon() noexcept override;

 private:
  const Kind kind_;
  std::array<MPI_Request, 2> requests_{MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  int used_ = 0;
  std::vector<int> int_args_;
};

}  // namespace attnscale

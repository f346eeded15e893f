// The MPI datatype and operators of all_reduce_loc: ValueIndex pairs reduced with reduce_loc
// (comm_types.h), which fixes the tie rule. Owned per communicator; freed before MPI_Finalize.
#pragma once

#include <mpi.h>

#include "distributed/comm/comm_types.h"

namespace attnscale {

class MpiLocReduction {
 public:
  MpiLocReduction();
  ~MpiLocReduction();
  MpiLocReduction(const MpiLocReduction&) = delete;
  MpiLocReduction& operator=(const MpiLocReduction&) = delete;

  MPI_Datatype datatype() const { return datatype_; }
  MPI_Op op(LocOp loc) const { return loc == LocOp::maxloc ? maxloc_ : minloc_; }

 private:
  MPI_Datatype datatype_ = MPI_DATATYPE_NULL;
  MPI_Op maxloc_ = MPI_OP_NULL;
  MPI_Op minloc_ = MPI_OP_NULL;
};

}  // namespace attnscale

#include "distributed/comm/node_info.h"

#include <mpi.h>

#include "distributed/comm/mpi_check.h"

namespace attnscale {

NodeInfo node_info() {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return {};
  MPI_Comm node = MPI_COMM_NULL;
  ATTNSCALE_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  NodeInfo info;
  const int rank_rc = MPI_Comm_rank(node, &info.local_rank);
  const int size_rc = MPI_Comm_size(node, &info.local_size);
  MPI_Comm_free(&node);
  ATTNSCALE_MPI_CHECK(rank_rc);
  ATTNSCALE_MPI_CHECK(size_rc);
  return info;
}

}  // namespace attnscale

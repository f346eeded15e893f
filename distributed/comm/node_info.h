// Ranks on this node (MPI_Comm_split_type SHARED over world) and this process's index among them.
// For base/threads.h's default thread count (cores / ranks on the node) and NCCL's device choice.
#pragma once

namespace attnscale {

struct NodeInfo {
  int local_rank = 0;
  int local_size = 1;
};

// Collective over MPI_COMM_WORLD; {0, 1} when MPI is not running.
NodeInfo node_info();

}  // namespace attnscale

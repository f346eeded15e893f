// One setting for the number of compute threads per process: OpenMP and OpenBLAS both follow it.
#pragma once

namespace attnscale {

// The default: the machine's cores divided by the ranks on this node (at least 1).
int default_thread_count(int ranks_on_node);

// Sets OpenMP's and OpenBLAS's thread counts; n <= 0 picks default_thread_count(ranks_on_node).
void set_thread_count(int n, int ranks_on_node = 1);

int thread_count();

}  // namespace attnscale

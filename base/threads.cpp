#include "base/threads.h"

#include <omp.h>

#include <algorithm>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace attnscale {

int default_thread_count(int ranks_on_node) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, ranks_on_node));
}

void set_thread_count(int n, int ranks_on_node) {
  if (n <= 0) n = default_thread_count(ranks_on_node);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int thread_count() { return omp_get_max_threads(); }

}  // namespace attnscale

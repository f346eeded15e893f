// MPI's lifetime, and how a job ends after an error.
//
//   int main(int argc, char** argv) {
//     attnscale::MpiEnvironment mpi(&argc, &argv);   // works with and without mpirun
//     return attnscale::run_job([&] { ...; return 0; });
//   }
//
// run_job() is THE place that decides how a failed job ends: an exception that escapes the body
// on any rank is logged with that rank's prefix and, when the job has more than one rank, ends
// every rank through MPI_Abort(MPI_COMM_WORLD, exit code) — the other ranks may be blocked in a
// collective with the failed one, and MPI_Finalize would hang them. A one-rank job just returns
// the exit code. Communicator timeouts (RuntimeFailure) reach it like any other error.
#pragma once

#include <functional>
#include <string_view>

namespace attnscale {

enum class ThreadLevel { single, funneled, serialized, multiple };
std::string_view thread_level_name(ThreadLevel level);

class MpiEnvironment {
 public:
  // Initialises MPI asking for `wanted` thread support and failing (RuntimeFailure) below
  // `needed`. If MPI is already initialised, adopts it and will not finalise it. Sets
  // MPI_ERRORS_RETURN on MPI_COMM_WORLD and the logger's rank prefix.
  explicit MpiEnvironment(int* argc = nullptr, char*** argv = nullptr,
                          ThreadLevel wanted = ThreadLevel::multiple,
                          ThreadLevel needed = ThreadLevel::funneled);
  // MPI_Finalize when this object initialised MPI. If an exception is escaping through it in a
  // job of more than one rank, ends the job instead (abort_job): finalising would hang the peers.
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

  ThreadLevel provided() const { return provided_; }  // what MPI granted
  bool owns_mpi() const { return owns_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }

 private:
  bool owns_ = false;
  ThreadLevel provided_ = ThreadLevel::single;
  int world_rank_ = 0;
  int world_size_ = 1;
  int uncaught_at_start_ = 0;
};

// Runs body and returns its exit code; on an exception see the header comment.
int run_job(const std::function<int()>& body);

// Logs `message` and the decision, then MPI_Abort(MPI_COMM_WORLD, exit_code) (exit_code >= 1).
[[noreturn]] void abort_job(std::string_view message, int exit_code);

}  // namespace attnscale

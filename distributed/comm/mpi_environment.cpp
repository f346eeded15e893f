#include "distributed/comm/mpi_environment.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "base/error.h"
#include "base/logging.h"
#include "distributed/comm/mpi_check.h"

namespace attnscale {
namespace {

int to_mpi(ThreadLevel level) {
  switch (level) {
    case ThreadLevel::single: return MPI_THREAD_SINGLE;
    case ThreadLevel::funneled: return MPI_THREAD_FUNNELED;
    case ThreadLevel::serialized: return MPI_THREAD_SERIALIZED;
    case ThreadLevel::multiple: return MPI_THREAD_MULTIPLE;
  }
  return MPI_THREAD_SINGLE;
}

ThreadLevel from_mpi(int level) {
  if (level >= MPI_THREAD_MULTIPLE) return ThreadLevel::multiple;
  if (level >= MPI_THREAD_SERIALIZED) return ThreadLevel::serialized;
  if (level >= MPI_THREAD_FUNNELED) return ThreadLevel::funneled;
  return ThreadLevel::single;
}

bool mpi_active() {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int world_size_or_one() {
  if (!mpi_active()) return 1;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

int end_after_error(std::string_view message, ExitCode code) {
  const int exit_code = static_cast<int>(code);
  if (world_size_or_one() > 1) abort_job(message, exit_code);
  LOG_ERROR("{}", message);
  return exit_code;
}

}  // namespace

std::string_view thread_level_name(ThreadLevel level) {
  switch (level) {
    case ThreadLevel::single: return "single";
    case ThreadLevel::funneled: return "funneled";
    case ThreadLevel::serialized: return "serialized";
    case ThreadLevel::multiple: return "multiple";
  }
  return "?";
}

MpiEnvironment::MpiEnvironment(int* argc, char*** argv, ThreadLevel wanted, ThreadLevel needed)
    : uncaught_at_start_(std::uncaught_exceptions()) {
  int initialized = 0;
  ATTNSCALE_MPI_CHECK(MPI_Initialized(&initialized));
  int provided = MPI_THREAD_SINGLE;
  if (initialized) {
    ATTNSCALE_MPI_CHECK(MPI_Query_thread(&provided));
  } else {
    ATTNSCALE_MPI_CHECK(MPI_Init_thread(argc, argv, to_mpi(wanted), &provided));
    owns_ = true;
  }
  provided_ = from_mpi(provided);
  ATTNSCALE_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  ATTNSCALE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  ATTNSCALE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  set_log_rank(world_rank_);
  if (provided_ < needed) {
    const std::string message =
        fmt::format("[mpi] thread support '{}' is below the required '{}' (asked for '{}')",
                    thread_level_name(provided_), thread_level_name(needed), thread_level_name(wanted));
    if (owns_) MPI_Finalize();
    throw RuntimeFailure(message);
  }
  if (provided_ < wanted)
    LOG_WARN("[mpi] asked for thread support '{}', got '{}'", thread_level_name(wanted),
             thread_level_name(provided_));
  LOG_DEBUG("[mpi] {} rank(s), thread support '{}'{}", world_size_, thread_level_name(provided_),
            owns_ ? "" : " (initialised by someone else)");
}

MpiEnvironment::~MpiEnvironment() {
  if (!owns_ || !mpi_active()) return;
  if (std::uncaught_exceptions() > uncaught_at_start_ && world_size_ > 1)
    abort_job("[mpi] an exception escaped while MPI was active (use run_job to see its message)", 1);
  MPI_Finalize();
}

int run_job(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    return end_after_error(e.what(), e.exit_code());
  } catch (const std::exception& e) {
    return end_after_error(e.what(), ExitCode::failure);
  }
}

void abort_job(std::string_view message, int exit_code) {
  if (exit_code < 1) exit_code = 1;
  LOG_ERROR("{}", message);
  LOG_ERROR("[mpi] ending the job on every rank (MPI_Abort, exit code {})", exit_code);
  logger().flush();
  std::fflush(stdout);
  std::fflush(stderr);
  if (mpi_active()) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace attnscale

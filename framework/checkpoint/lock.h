// One writer per checkpoint directory. A training run holds <checkpoint.dir>/lock for its whole
// life (rank 0 takes it before touching the directory); a second run on the same directory is
// refused with a CheckpointError (exit code 4) naming the holder's host, pid and run directory.
//
//  - flock(2) on the lock file, where the file system has it: the kernel releases the lock when
//    the holder exits or crashes (SIGKILL, MPI_Abort), so a lock is never stale.
//  - where flock is not supported (ENOLCK, EOPNOTSUPP: some NFS and Lustre mounts), an
//    exclusively created <checkpoint.dir>/lock.held with "host pid run_dir" in it, removed when the
//    holder ends normally. One left by a process that died is taken over when its host is this host
//    and that pid is gone; from another host the refusal says how to remove it by hand.
#pragma once

#include <filesystem>
#include <string>

#include "framework/io/durable_fs.h"

namespace attnscale::checkpoint {

inline constexpr std::string_view kLockFile = "lock";
inline constexpr std::string_view kHeldFile = "lock.held";  // the fallback without flock

enum class LockMethod {
  automatic,       // flock; the exclusive file where the file system has no flock
  exclusive_file,  // the fallback alone (tests; file systems whose flock is not shared across nodes)
};

// Who holds a lock: what the lock file says.
struct LockHolder {
  std::string host;
  long pid = 0;
  std::string run_dir;

  std::string str() const;  // "host H, pid P, run directory D"
};

// This process, running `run_dir`.
LockHolder this_process(const std::filesystem::path& run_dir);

class CheckpointDirLock {
 public:
  // Creates `dir` when missing and takes its lock for `holder`; CheckpointError naming the current
  // holder when another process has it, RuntimeFailure when the lock cannot be made.
  CheckpointDirLock(const std::filesystem::path& dir, const LockHolder& holder,
                    LockMethod method = LockMethod::automatic);
  ~CheckpointDirLock();  // releases it
  CheckpointDirLock(const CheckpointDirLock&) = delete;
  CheckpointDirLock& operator=(const CheckpointDirLock&) = delete;

  bool uses_flock() const { return held_file_.empty(); }

 private:
  void take_held_file(const std::filesystem::path& dir, const LockHolder& holder);

  UniqueFd fd_;                     // the flock'ed lock file (flock: released with it)
  std::filesystem::path held_file_;  // the fallback's file, removed on release
};

}  // namespace attnscale::checkpoint

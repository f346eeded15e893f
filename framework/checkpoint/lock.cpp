#include "framework/checkpoint/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "base/error.h"
#include "base/logging.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

[[noreturn]] void fail(std::string_view what, const fs::path& path, int error) {
  throw RuntimeFailure(fmt::format("[checkpoint] cannot {} {}: {}", what, path.string(), std::strerror(error)));
}

// "host pid run_dir\n"; the run directory is the rest of the line (it may hold spaces).
std::string holder_text(const LockHolder& holder) {
  return fmt::format("{} {} {}\n", holder.host, holder.pid, holder.run_dir);
}

std::optional<LockHolder> read_holder(const fs::path& file) {
  std::string text;
  try {
    text = read_text_file(file);
  } catch (const Error&) {
    return std::nullopt;
  }
  std::istringstream in(text);
  LockHolder holder;
  if (!(in >> holder.host >> holder.pid) || holder.pid <= 0) return std::nullopt;
  std::getline(in >> std::ws, holder.run_dir);
  return holder;
}

[[noreturn]] void refuse(const fs::path& dir, const std::optional<LockHolder>& holder, std::string_view hint) {
  throw CheckpointError(fmt::format(
      "[checkpoint] {} is in use by another run ({}): two runs writing one checkpoint directory would overwrite or "
      "delete each other's checkpoints. Wait for that run to end, or give this one its own checkpoint.dir{}",
      dir.string(), holder ? holder->str() : "its host and pid are not recorded yet", hint));
}

// A holder on this host whose process is gone cannot be using the directory any more.
bool is_stale(const LockHolder& holder) {
  return holder.host == host_name() && ::kill(static_cast<pid_t>(holder.pid), 0) != 0 && errno == ESRCH;
}

bool flock_unsupported(int error) { return error == ENOLCK || error == EOPNOTSUPP || error == ENOSYS || error == EINVAL; }

void write_all(int fd, std::string_view text, const fs::path& file) {
  while (!text.empty()) {
    const ssize_t wrote = ::write(fd, text.data(), text.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) fail("write", file, errno);
    text.remove_prefix(static_cast<std::size_t>(wrote));
  }
}

}  // namespace

std::string LockHolder::str() const { return fmt::format("host {}, pid {}, run directory {}", host, pid, run_dir); }

LockHolder this_process(const fs::path& run_dir) {
  return {host_name(), static_cast<long>(::getpid()), fs::absolute(run_dir).lexically_normal().string()};
}

CheckpointDirLock::CheckpointDirLock(const fs::path& dir, const LockHolder& holder, LockMethod method) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw RuntimeFailure(fmt::format("[checkpoint] cannot create {}: {}", dir.string(), ec.message()));
  if (method == LockMethod::exclusive_file) {
    take_held_file(dir, holder);
    return;
  }

  const fs::path file = dir / kLockFile;
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) fail("open", file, errno);
  int status = 0;
  while ((status = ::flock(fd.get(), LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (status != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) refuse(dir, read_holder(file), "");
    if (!flock_unsupported(error)) fail("lock (flock)", file, error);
    LOG_WARN("[checkpoint] {} has no flock ({}): locking it with {} instead", dir.string(), std::strerror(error),
             kHeldFile);
    take_held_file(dir, holder);
    return;
  }
  // The lock is ours; what it records is only for the message a refused run prints.
  if (::ftruncate(fd.get(), 0) != 0) fail("truncate", file, errno);
  write_all(fd.get(), holder_text(holder), file);
  fd_ = std::move(fd);
}

void CheckpointDirLock::take_held_file(const fs::path& dir, const LockHolder& holder) {
  const fs::path file = dir / kHeldFile;
  const std::string by_hand =
      fmt::format(" (if no run uses it any more, for example after a crash on another node, remove {})", file.string());
  for (int attempt = 0; attempt < 2; ++attempt) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() >= 0) {
      try {
        write_all(fd.get(), holder_text(holder), file);
        if (::fsync(fd.get()) != 0) fail("fsync", file, errno);
        fd.close(file);
      } catch (...) {
        std::error_code ec;
        fs::remove(file, ec);  // the constructor fails, so no destructor would
        throw;
      }
      held_file_ = file;
      return;
    }
    if (errno != EEXIST) fail("create", file, errno);
    const std::optional<LockHolder> current = read_holder(file);
    if (!current || !is_stale(*current)) refuse(dir, current, by_hand);
    LOG_WARN("[checkpoint] removing {}: it names {}, and that process is gone", file.string(), current->str());
    std::error_code ec;
    fs::remove(file, ec);
  }
  refuse(dir, read_holder(file), by_hand);
}

CheckpointDirLock::~CheckpointDirLock() {
  if (held_file_.empty()) return;  // flock: closing fd_ releases it
  std::error_code ec;
  fs::remove(held_file_, ec);
}

}  // namespace attnscale::checkpoint

#include "framework/io/durable_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(std::string_view what, const fs::path& path, int error) {
  throw RuntimeFailure(fmt::format("[io] cannot {} {}: {}", what, path.string(), std::strerror(error)));
}

UniqueFd open_checked(const fs::path& path, int flags, std::string_view what, mode_t mode = 0644) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) fail(what, path, errno);
  return UniqueFd(fd);
}

void fsync_fd(const UniqueFd& fd, const fs::path& path) {
  if (::fsync(fd.get()) != 0) fail("fsync", path, errno);
}

fs::path parent_of(const fs::path& path) {
  const fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

void UniqueFd::close(const fs::path& path) {
  const int fd = fd_;
  fd_ = -1;
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) fail("close", path, errno);
}

UniqueFd open_for_reading(const fs::path& file) { return open_checked(file, O_RDONLY, "open"); }

std::string read_text_file(const fs::path& file) {
  const UniqueFd fd = open_for_reading(file);
  std::string text;
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("read", file, errno);
    if (got == 0) return text;
    text.append(buffer, static_cast<std::size_t>(got));
  }
}

void write_file_durably(const fs::path& file, std::string_view content) {
  UniqueFd fd = open_checked(file, O_WRONLY | O_CREAT | O_TRUNC, "create");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t wrote = ::write(fd.get(), content.data() + done, content.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) fail("write", file, errno);
    done += static_cast<std::size_t>(wrote);
  }
  fsync_fd(fd, file);
  fd.close(file);
}

void fsync_file(const fs::path& file) {
  UniqueFd fd = open_checked(file, O_RDONLY, "open for fsync");
  fsync_fd(fd, file);
  fd.close(file);
}

void fsync_directory(const fs::path& dir) {
  UniqueFd fd = open_checked(dir, O_RDONLY | O_DIRECTORY, "open directory for fsync");
  fsync_fd(fd, dir);
  fd.close(dir);
}

void rename_durably(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    throw RuntimeFailure(
        fmt::format("[io] cannot rename {} to {}: {}", from.string(), to.string(), std::strerror(errno)));
  fsync_directory(parent_of(to));
  if (parent_of(from) != parent_of(to)) fsync_directory(parent_of(from));
}

void replace_file_durably(const fs::path& file, std::string_view content) {
  const fs::path partial = fs::path(file).concat(".tmp");
  write_file_durably(partial, content);
  rename_durably(partial, file);
}

}  // namespace attnscale

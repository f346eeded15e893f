// File-system steps for crash-safe commits (checkpoints, pointer files): data is fsync'ed before the
// rename that publishes it, and a rename is made durable by fsync'ing the directory that holds it.
// Every failure is a RuntimeFailure("[io] ...") naming the path and the system's reason.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace attnscale {

// Owns a POSIX file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  // Closes now and reports a failed close (a deferred write error on some file systems).
  void close(const std::filesystem::path& path);

 private:
  int fd_ = -1;
};

UniqueFd open_for_reading(const std::filesystem::path& file);
// The whole file as bytes.
std::string read_text_file(const std::filesystem::path& file);

// Creates (or truncates) `file`, writes `content`, fsyncs and closes it.
void write_file_durably(const std::filesystem::path& file, std::string_view content);
// Flushes a file's data (after another library wrote and closed it) to the disk.
void fsync_file(const std::filesystem::path& file);
// Makes the entries of `dir` (files created, renamed or removed in it) durable.
void fsync_directory(const std::filesystem::path& dir);
// rename(2) (atomic on one file system; replaces a file or an empty directory), then fsyncs the
// parent directory of `to` (and of `from` when different).
void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);
// Replaces `file` atomically: writes `<file>.tmp` durably and renames it over `file`.
void replace_file_durably(const std::filesystem::path& file, std::string_view content);

}  // namespace attnscale

// Errors: every failure a user can see is an attnscale::Error whose message starts with the
// subsystem in brackets ("[matmul] ..."). The subclass decides the process exit code (see
// ExitCode and README "Exit codes").
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace attnscale {

enum class ExitCode : int {
  ok = 0,
  failure = 1,     // anything not listed below
  usage = 2,       // bad command line or config
  data = 3,        // unreadable or malformed data
  checkpoint = 4,  // corrupt, incomplete or mismatched checkpoint
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  virtual ExitCode exit_code() const { return ExitCode::failure; }
};

// A caller's mistake: wrong shapes, bad arguments, invalid config.
class UsageError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::usage; }
};

class ConfigError : public UsageError {
 public:
  using UsageError::UsageError;
};

class DataError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::data; }
};

class CheckpointError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::checkpoint; }
};

// The environment failed: a library call, the network, the file system.
class RuntimeFailure : public Error {
 public:
  using Error::Error;
};

// Ends a command with a given exit code after its cause was already reported (empty message).
class ExitStatus : public Error {
 public:
  explicit ExitStatus(int code) : Error(""), code_(code) {}
  ExitCode exit_code() const override { return static_cast<ExitCode>(code_); }

 private:
  int code_;
};

// Throws UsageError("[where] message") unless cond holds.
#define ATTNSCALE_CHECK(cond, where, ...)                                              \
  do {                                                                                 \
    if (!(cond))                                                                       \
      throw ::attnscale::UsageError(fmt::format("[{}] {}", where, fmt::format(__VA_ARGS__))); \
  } while (0)

}  // namespace attnscale

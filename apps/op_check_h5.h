// HDF5 for `attnscale op-check`: RAII handles, a checked-call macro and whole-dataset reads and
// writes converted to a native type. (framework/io owns the checkpoint HDF5 code; this file is
// the op-check's small reader/writer and can move there once that layer exists.)
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace attnscale::app {

// An HDF5 call failed; the message names the call, file and line.
class Hdf5Error : public RuntimeFailure {
 public:
  using RuntimeFailure::RuntimeFailure;
};

// Evaluates an HDF5 call and throws Hdf5Error when it returns a negative id or status.
#define ATTNSCALE_H5_CHECK(call)                                                          \
  ([&] {                                                                                  \
    const auto h5_result_ = (call);                                                       \
    if (h5_result_ < 0)                                                                   \
      throw ::attnscale::app::Hdf5Error(                                                  \
          fmt::format("[hdf5] {} failed ({}:{})", #call, __FILE__, __LINE__));            \
    return h5_result_;                                                                    \
  }())

// Owns one HDF5 identifier and closes it with the matching H5?close.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  H5Handle(H5Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      close_ = other.close_;
      other.id_ = -1;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }
  hid_t get() const { return id_; }

 private:
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Turns off HDF5's own error printing: failures surface as exceptions with one clear message.
void silence_hdf5_errors();

template <typename T>
struct H5Array {
  std::vector<int64_t> dims;
  std::vector<T> data;
};

enum class H5Class { floating, integer, other };

// An HDF5 file opened for reading. Every failure is a DataError naming the file.
class H5Reader {
 public:
  explicit H5Reader(const std::string& path);
  const std::string& path() const { return path_; }
  bool has_dataset(const std::string& name) const;
  H5Class dataset_class(const std::string& name) const;
  size_t dataset_element_size(const std::string& name) const;
  // Reads a whole dataset converted to T (float, double or int32_t). The dataset's class must
  // match (floating point for float/double, integer for int32_t).
  template <typename T>
  H5Array<T> read(const std::string& name) const;
  bool has_attribute(const std::string& name) const;
  std::optional<std::string> string_attribute(const std::string& name) const;
  std::optional<double> number_attribute(const std::string& name) const;

 private:
  std::string path_;
  H5Handle file_;
};

// An HDF5 file created (truncated) for writing. Failures are Hdf5Error (a runtime failure).
class H5Writer {
 public:
  explicit H5Writer(const std::string& path);
  template <typename T>
  void write(const std::string& name, const std::vector<int64_t>& dims, const std::vector<T>& data);
  void string_attribute(const std::string& name, const std::string& value);

 private:
  H5Handle file_;
};

}  // namespace attnscale::app

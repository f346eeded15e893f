// HDF5 through its C API (serial library): RAII handles, a checked-call macro that names the failed
// call with HDF5's own reason, and tensors stored as datasets that h5py and h5dump read as they are.
//
//   h5::File file = h5::File::create("model.h5");
//   file.write_tensor("params/blocks.0.attn.q_proj.weight", weight);   // groups made on the way
//   file.set_attribute("/", "step", int64_t{100});
//   file.close();                                                       // writes it; reports a failure
//   Tensor w = h5::File::open_read("model.h5").read_tensor("params/blocks.0.attn.q_proj.weight");
//
// Datasets are chunked (about 1 MiB a chunk) with the Fletcher32 checksum filter, so a reader
// notices a corrupted chunk even without a manifest; scalars and empty tensors cannot be chunked
// and are stored contiguous. Objects are written without timestamps: the same content gives the
// same bytes, so file hashes compare runs.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale::h5 {

// An HDF5 call failed; the message names the call (or the file) and HDF5's reason.
class Error : public RuntimeFailure {
 public:
  using RuntimeFailure::RuntimeFailure;
};

// Opening or creating a file failed on its lock: another process holds it, or the file system has
// no flock (the message says to set HDF5_USE_FILE_LOCKING=FALSE there).
class LockError : public Error {
 public:
  using Error::Error;
};

// HDF5's current error stack, most specific message first, joined by "; " (empty when none).
std::string error_stack();
[[noreturn]] void throw_call_failed(const char* call, const char* file, int line);

// Evaluates an HDF5 call; a negative id or status throws h5::Error naming the call and the reason.
#define ATTNSCALE_HDF5_CHECK(call)                                                     \
  ([&] {                                                                               \
    const auto h5_result_ = (call);                                                    \
    if (h5_result_ < 0) ::attnscale::h5::throw_call_failed(#call, __FILE__, __LINE__); \
    return h5_result_;                                                                 \
  }())

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  // Closes now; returns HDF5's status (negative on failure).
  herr_t reset() noexcept;

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// What a dataset stores, for readers that take several types and convert.
enum class ValueClass { floating, integer, other };
struct StoredType {
  ValueClass value_class = ValueClass::other;
  std::size_t element_size = 0;  // bytes
};

// A whole dataset in a native type, with its dimensions.
template <typename T>
struct Array {
  std::vector<int64_t> dims;
  std::vector<T> data;
};

// Refuses to read a dataset whose declared shape does not fit: more bytes than the file stores for
// it (a truncated or never-written dataset, or a header that lies; checked where the data is stored
// uncompressed) or than the memory this process can still get. Every whole-dataset read calls it
// before allocating, so a 1 KB file cannot ask for 128 GiB. h5::Error naming the dataset, its shape
// and both sizes.
void check_declared_size(hid_t dataset, std::string_view name, std::size_t memory_element_size);

struct DatasetInfo {
  DType dtype = DType::f32;
  Shape shape;
  bool chunked = false;
  bool fletcher32 = false;
};

class File {
 public:
  // A new file, built in memory until close() writes it (replacing `path`) and fsyncs it: HDF5
  // itself never writes the disk, so a full disk is an ordinary error of close() naming the file,
  // and every HDF5 id is released on every path. Costs one copy of the file in memory. A File
  // destroyed without close() writes nothing.
  static File create(const std::filesystem::path& path);
  // Opens an existing file read-only. h5::LockError or h5::Error naming the file and HDF5's reason
  // (not an HDF5 file, truncated, ...).
  static File open_read(const std::filesystem::path& path);
  // Whether `path` is an HDF5 file (false for a missing or unreadable file too).
  static bool is_hdf5(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  hid_t id() const { return file_.get(); }
  // Closes, reporting a failure (the destructor closes silently); a created file is written here.
  void close();

  // A tensor of any dtype, under a slash-separated path; missing groups are created.
  void write_tensor(std::string_view path, const Tensor& tensor);
  Tensor read_tensor(std::string_view path) const;
  DatasetInfo dataset_info(std::string_view path) const;
  // Unsigned 64-bit values (random-generator states) as a 1-D dataset.
  void write_u64(std::string_view path, std::span<const std::uint64_t> values);
  std::vector<std::uint64_t> read_u64(std::string_view path) const;

  // Arrays of float, double or int32_t: stored as that type, read converted to it by HDF5 (any
  // stored type of the same class). Contiguous when the dataset is empty, else chunked as above.
  template <typename T>
  void write_array(std::string_view path, std::span<const int64_t> dims, std::span<const T> data);
  template <typename T>
  Array<T> read_array(std::string_view path) const;
  StoredType stored_type(std::string_view path) const;

  bool exists(std::string_view path) const;
  bool has_dataset(std::string_view path) const;
  // Every dataset below `group`, as paths relative to it ("adam.m/fc.weight"), in name order.
  std::vector<std::string> datasets(std::string_view group) const;
  // Direct child groups of `group`, in name order.
  std::vector<std::string> groups(std::string_view group) const;

  void set_attribute(std::string_view object, std::string_view name, std::string_view value);
  void set_attribute(std::string_view object, std::string_view name, std::int64_t value);
  std::string string_attribute(std::string_view object, std::string_view name) const;
  std::int64_t int_attribute(std::string_view object, std::string_view name) const;
  bool has_attribute(std::string_view object, std::string_view name) const;
  // A single integer or floating-point value, as a double.
  double number_attribute(std::string_view object, std::string_view name) const;

 private:
  File(std::filesystem::path path, Handle file, bool in_memory = false)
      : path_(std::move(path)), file_(std::move(file)), in_memory_(in_memory) {}
  void make_groups(std::string_view path);
  void write_dataset(std::string_view path, hid_t file_type, hid_t memory_type, const void* data,
                     std::span<const hsize_t> dims, std::size_t element_size);

  std::filesystem::path path_;
  Handle file_;
  bool in_memory_ = false;  // created: close() writes the image
};

}  // namespace attnscale::h5

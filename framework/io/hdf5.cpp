#include "framework/io/hdf5.h"

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>

#include "framework/core/tensor/host_allocator.h"
#include "framework/io/durable_fs.h"

namespace attnscale::h5 {
namespace {

namespace fs = std::filesystem;

// Exceptions replace HDF5's own printing of its error stack.
void silence_automatic_printing() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

herr_t collect_message(unsigned, const H5E_error2_t* error, void* data) {
  auto& messages = *static_cast<std::vector<std::string>*>(data);
  if (error->desc && *error->desc && std::find(messages.begin(), messages.end(), error->desc) == messages.end())
    messages.emplace_back(error->desc);
  return 0;
}

[[noreturn]] void throw_open_failed(std::string_view action, const fs::path& path) {
  const std::string reason = error_stack();
  if (reason.find("lock") != std::string::npos)
    throw LockError(fmt::format(
        "[hdf5] cannot {} {}: the file lock failed ({}). If another process is writing this file, wait for it "
        "to finish; on a file system without flock support (some NFS and Lustre mounts) set "
        "HDF5_USE_FILE_LOCKING=FALSE (attnscale's checkpoint commit does not rely on HDF5's lock)",
        action, path.string(), reason));
  throw Error(fmt::format("[hdf5] cannot {} {}: {}", action, path.string(), reason.empty() ? "unknown error" : reason));
}

std::string owned(std::string_view text) { return std::string(text); }

hid_t file_type_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i64: return H5T_STD_I64LE;
    case DType::bf16: break;  // HDF5 has no bfloat16 type; checkpoints keep float32 masters
  }
  throw Error(fmt::format("[hdf5] {} tensors are not stored: convert them to float32", dtype_name(dtype)));
}

hid_t memory_type_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::bf16: break;
  }
  throw Error(fmt::format("[hdf5] {} tensors are not stored: convert them to float32", dtype_name(dtype)));
}

// About 1 MiB a chunk: halve the outer dimensions first, so a chunk is a run of whole rows.
std::vector<hsize_t> chunk_dims(std::span<const hsize_t> dims, std::size_t element_size) {
  constexpr hsize_t target_bytes = hsize_t{1} << 20;
  std::vector<hsize_t> chunk(dims.begin(), dims.end());
  const auto bytes = [&] {
    hsize_t total = element_size;
    for (const hsize_t c : chunk) total *= c;
    return total;
  };
  for (std::size_t axis = 0; axis < chunk.size() && bytes() > target_bytes; ++axis)
    while (chunk[axis] > 1 && bytes() > target_bytes) chunk[axis] = (chunk[axis] + 1) / 2;
  return chunk;
}

// Creation properties of every group and dataset: no access/modification times in the object
// headers, so identical content gives identical files.
Handle untimed(hid_t property_class) {
  Handle list(ATTNSCALE_HDF5_CHECK(H5Pcreate(property_class)), H5Pclose);
  ATTNSCALE_HDF5_CHECK(H5Pset_obj_track_times(list.get(), false));
  return list;
}

Handle open_object(hid_t file, std::string_view path) {
  return Handle(ATTNSCALE_HDF5_CHECK(H5Oopen(file, owned(path).c_str(), H5P_DEFAULT)), H5Oclose);
}

Handle open_dataset(hid_t file, std::string_view path) {
  return Handle(ATTNSCALE_HDF5_CHECK(H5Dopen2(file, owned(path).c_str(), H5P_DEFAULT)), H5Dclose);
}

std::vector<hsize_t> extent(hid_t dataset) {
  const Handle space(ATTNSCALE_HDF5_CHECK(H5Dget_space(dataset)), H5Sclose);
  const int rank = ATTNSCALE_HDF5_CHECK(H5Sget_simple_extent_ndims(space.get()));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) ATTNSCALE_HDF5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return dims;
}

std::string shape_text(std::span<const hsize_t> dims) {
  std::string text = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) text += fmt::format("{}{}", i ? ", " : "", dims[i]);
  return text + "]";
}

std::string bytes_text(std::uint64_t bytes) {
  return bytes < (std::uint64_t{1} << 20) ? fmt::format("{} bytes", bytes)
                                          : fmt::format("{} bytes ({:.1f} GiB)", bytes, static_cast<double>(bytes) / (1 << 30));
}

// Whether the file holds the dataset's values one for one (plus checksums): no filter that shrinks
// them, no external files, no virtual mapping. Only then must the stored bytes cover the declared ones.
bool stored_uncompressed(hid_t dataset) {
  const Handle properties(ATTNSCALE_HDF5_CHECK(H5Dget_create_plist(dataset)), H5Pclose);
  const H5D_layout_t layout = H5Pget_layout(properties.get());
  if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT) return false;
  if (ATTNSCALE_HDF5_CHECK(H5Pget_external_count(properties.get())) > 0) return false;
  const int filters = ATTNSCALE_HDF5_CHECK(H5Pget_nfilters(properties.get()));
  for (int f = 0; f < filters; ++f) {
    unsigned flags = 0;
    std::size_t values = 0;
    const H5Z_filter_t filter =
        H5Pget_filter2(properties.get(), static_cast<unsigned>(f), &flags, &values, nullptr, 0, nullptr, nullptr);
    if (filter != H5Z_FILTER_FLETCHER32 && filter != H5Z_FILTER_SHUFFLE) return false;
  }
  return true;
}

DType dtype_of_dataset(hid_t dataset, std::string_view path) {
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Dget_type(dataset)), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (type_class == H5T_FLOAT && size == 4) return DType::f32;
  if (type_class == H5T_FLOAT && size == 8) return DType::f64;
  if (type_class == H5T_INTEGER && size == 8 && H5Tget_sign(type.get()) == H5T_SGN_2) return DType::i64;
  throw Error(fmt::format("[hdf5] dataset '{}' holds {}-byte {} values; tensors are float32, float64 or int64", path,
                          size, type_class == H5T_FLOAT ? "floating-point" : "non-float"));
}

// The file and memory types of the arrays write_array / read_array take.
template <typename T>
hid_t array_file_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_IEEE_F32LE;
  else if constexpr (std::is_same_v<T, double>) return H5T_IEEE_F64LE;
  else return H5T_STD_I32LE;
}
template <typename T>
hid_t array_memory_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else return H5T_NATIVE_INT32;
}

struct VisitState {
  std::vector<std::string>* names;
  H5I_type_t wanted;
};

herr_t visit_link(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  const auto& state = *static_cast<VisitState*>(data);
  if (info->type != H5L_TYPE_HARD) return 0;
  const hid_t object = H5Oopen(group, name, H5P_DEFAULT);
  if (object < 0) return -1;
  const Handle owned_object(object, H5Oclose);
  if (H5Iget_type(object) == state.wanted) state.names->emplace_back(name);
  return 0;
}

}  // namespace

void check_declared_size(hid_t dataset, std::string_view name, std::size_t memory_element_size) {
  const std::vector<hsize_t> dims = extent(dataset);
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Dget_type(dataset)), H5Tclose);
  const std::uint64_t file_element_size = H5Tget_size(type.get());
  std::uint64_t count = 1, file_bytes = 0, memory_bytes = 0;
  bool overflow = false;
  for (const hsize_t d : dims) overflow |= __builtin_mul_overflow(count, d, &count);
  overflow |= __builtin_mul_overflow(count, file_element_size, &file_bytes);
  overflow |= __builtin_mul_overflow(count, memory_element_size, &memory_bytes);
  if (overflow)
    throw Error(fmt::format("[hdf5] dataset '{}' declares shape {}, more bytes than a 64-bit size can count", name,
                            shape_text(dims)));
  if (count == 0) return;
  if (stored_uncompressed(dataset)) {
    const std::uint64_t stored = H5Dget_storage_size(dataset);
    if (stored < file_bytes)
      throw Error(fmt::format("[hdf5] dataset '{}' declares shape {} of {}-byte values, {}, but the file stores only "
                              "{} for it (truncated, never written, or a damaged header)",
                              name, shape_text(dims), file_element_size, bytes_text(file_bytes), bytes_text(stored)));
  }
  const std::uint64_t available = host_memory::available_memory();
  if (memory_bytes > available)
    throw Error(fmt::format("[hdf5] dataset '{}' declares shape {}: reading it needs {}, but only {} of memory is "
                            "available",
                            name, shape_text(dims), bytes_text(memory_bytes), bytes_text(available)));
}

std::string error_stack() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_message, &messages);
  std::string joined;
  for (const std::string& message : messages) {
    if (!joined.empty()) joined += "; ";
    joined += message;
  }
  std::replace(joined.begin(), joined.end(), '\n', ' ');  // one line, whatever HDF5 says
  return joined;
}

void throw_call_failed(const char* call, const char* file, int line) {
  const std::string reason = error_stack();
  throw Error(fmt::format("[hdf5] {} failed{}{} ({}:{})", call, reason.empty() ? "" : ": ", reason,
                          fs::path(file).filename().string(), line));
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = -1;
  }
  return *this;
}

herr_t Handle::reset() noexcept {
  herr_t status = 0;
  if (id_ >= 0 && close_) status = close_(id_);
  id_ = -1;
  return status;
}

File File::create(const fs::path& path) {
  silence_automatic_printing();
  // The core driver without a backing store: HDF5 builds the file in memory and never writes the
  // disk, so a full disk cannot fail inside HDF5 (where a failed flush leaves the file id open and
  // crashes the library's exit handler); close() writes the image.
  const Handle access(ATTNSCALE_HDF5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  ATTNSCALE_HDF5_CHECK(H5Pset_fapl_core(access.get(), std::size_t{1} << 20, /*backing_store=*/false));
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get());
  if (id < 0) throw_open_failed("create", path);
  return File(path, Handle(id, H5Fclose), /*in_memory=*/true);
}

bool File::is_hdf5(const fs::path& path) {
  silence_automatic_printing();
  return H5Fis_hdf5(path.c_str()) > 0;
}

File File::open_read(const fs::path& path) {
  silence_automatic_printing();
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw_open_failed("open", path);
  return File(path, Handle(id, H5Fclose));
}

void File::close() {
  if (file_.get() < 0) return;
  if (!in_memory_) {
    if (file_.reset() < 0) throw Error(fmt::format("[hdf5] cannot close {}: {}", path_.string(), error_stack()));
    return;
  }
  std::string image;
  const ssize_t size = H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0 ? -1 : H5Fget_file_image(file_.get(), nullptr, 0);
  if (size > 0) {
    image.resize(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file_.get(), image.data(), image.size()) != size) image.clear();
  }
  const std::string reason = image.empty() ? error_stack() : "";
  // Closing a file in memory touches no disk; the id is released whatever happens next.
  if (file_.reset() < 0 || image.empty())
    throw Error(fmt::format("[hdf5] cannot build {} in memory: {}", path_.string(), reason.empty() ? error_stack() : reason));
  write_file_durably(path_, image);  // "[io] cannot write FILE: No space left on device"
}

void File::make_groups(std::string_view path) {
  const Handle properties = untimed(H5P_GROUP_CREATE);
  for (std::size_t slash = path.find('/', 1); slash != std::string_view::npos; slash = path.find('/', slash + 1)) {
    const std::string prefix(path.substr(0, slash));
    if (ATTNSCALE_HDF5_CHECK(H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT)) > 0) continue;
    Handle group(ATTNSCALE_HDF5_CHECK(H5Gcreate2(file_.get(), prefix.c_str(), H5P_DEFAULT, properties.get(), H5P_DEFAULT)),
                 H5Gclose);
  }
}

void File::write_dataset(std::string_view path, hid_t file_type, hid_t memory_type, const void* data,
                         std::span<const hsize_t> dims, std::size_t element_size) {
  make_groups(path);
  hsize_t count = 1;
  for (const hsize_t d : dims) count *= d;
  const Handle space(ATTNSCALE_HDF5_CHECK(dims.empty() ? H5Screate(H5S_SCALAR)
                                                       : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)),
                     H5Sclose);
  const Handle properties = untimed(H5P_DATASET_CREATE);
  if (!dims.empty() && count > 0) {
    const std::vector<hsize_t> chunk = chunk_dims(dims, element_size);
    ATTNSCALE_HDF5_CHECK(H5Pset_chunk(properties.get(), static_cast<int>(chunk.size()), chunk.data()));
    ATTNSCALE_HDF5_CHECK(H5Pset_fletcher32(properties.get()));
  }
  const Handle dataset(ATTNSCALE_HDF5_CHECK(H5Dcreate2(file_.get(), owned(path).c_str(), file_type, space.get(),
                                                       H5P_DEFAULT, properties.get(), H5P_DEFAULT)),
                       H5Dclose);
  if (count > 0) ATTNSCALE_HDF5_CHECK(H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
}

void File::write_tensor(std::string_view path, const Tensor& tensor) {
  // A GPU tensor is written from a host copy: the file is the same whichever device trained.
  const Tensor host = tensor.detach().to(kCpu).contiguous();
  std::vector<hsize_t> dims;
  for (const int64_t d : host.shape()) dims.push_back(static_cast<hsize_t>(d));
  ATTNSCALE_DISPATCH_ALL(host.dtype(), [&] {
    write_dataset(path, file_type_of(host.dtype()), memory_type_of(host.dtype()), host.data<scalar_t>(), dims,
                  sizeof(scalar_t));
  });
}

DatasetInfo File::dataset_info(std::string_view path) const {
  const Handle dataset = open_dataset(file_.get(), path);
  DatasetInfo info;
  info.dtype = dtype_of_dataset(dataset.get(), path);
  for (const hsize_t d : extent(dataset.get())) info.shape.push_back(static_cast<int64_t>(d));
  const Handle properties(ATTNSCALE_HDF5_CHECK(H5Dget_create_plist(dataset.get())), H5Pclose);
  info.chunked = H5Pget_layout(properties.get()) == H5D_CHUNKED;
  unsigned flags = 0;
  info.fletcher32 = info.chunked && H5Pget_filter_by_id2(properties.get(), H5Z_FILTER_FLETCHER32, &flags, nullptr,
                                                         nullptr, 0, nullptr, nullptr) >= 0;
  return info;
}

Tensor File::read_tensor(std::string_view path) const {
  const Handle dataset = open_dataset(file_.get(), path);
  const DType dtype = dtype_of_dataset(dataset.get(), path);
  check_declared_size(dataset.get(), path, dtype_size(dtype));
  Shape shape;
  for (const hsize_t d : extent(dataset.get())) shape.push_back(static_cast<int64_t>(d));
  Tensor tensor = Tensor::empty(shape, dtype);
  if (tensor.numel() > 0)
    ATTNSCALE_DISPATCH_ALL(dtype, [&] {
      ATTNSCALE_HDF5_CHECK(
          H5Dread(dataset.get(), memory_type_of(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data<scalar_t>()));
    });
  return tensor;
}

void File::write_u64(std::string_view path, std::span<const std::uint64_t> values) {
  const hsize_t dims[] = {values.size()};
  write_dataset(path, H5T_STD_U64LE, H5T_NATIVE_UINT64, values.data(), dims, sizeof(std::uint64_t));
}

std::vector<std::uint64_t> File::read_u64(std::string_view path) const {
  const Handle dataset = open_dataset(file_.get(), path);
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Dget_type(dataset.get())), H5Tclose);
  const std::vector<hsize_t> dims = extent(dataset.get());
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 8 ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE || dims.size() != 1)
    throw Error(fmt::format("[hdf5] dataset '{}' is not a 1-D array of unsigned 64-bit integers", path));
  check_declared_size(dataset.get(), path, sizeof(std::uint64_t));
  std::vector<std::uint64_t> values(dims[0]);
  if (!values.empty())
    ATTNSCALE_HDF5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
  return values;
}

template <typename T>
void File::write_array(std::string_view path, std::span<const int64_t> dims, std::span<const T> data) {
  const std::vector<hsize_t> extent_dims(dims.begin(), dims.end());
  write_dataset(path, array_file_type<T>(), array_memory_type<T>(), data.data(), extent_dims, sizeof(T));
}

template <typename T>
Array<T> File::read_array(std::string_view path) const {
  const Handle dataset = open_dataset(file_.get(), path);
  check_declared_size(dataset.get(), path, sizeof(T));
  Array<T> array;
  std::size_t count = 1;
  for (const hsize_t d : extent(dataset.get())) {
    array.dims.push_back(static_cast<int64_t>(d));
    count *= d;
  }
  array.data.resize(count);
  if (count > 0)
    ATTNSCALE_HDF5_CHECK(
        H5Dread(dataset.get(), array_memory_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, array.data.data()));
  return array;
}

template void File::write_array<float>(std::string_view, std::span<const int64_t>, std::span<const float>);
template void File::write_array<double>(std::string_view, std::span<const int64_t>, std::span<const double>);
template void File::write_array<int32_t>(std::string_view, std::span<const int64_t>, std::span<const int32_t>);
template Array<float> File::read_array<float>(std::string_view) const;
template Array<double> File::read_array<double>(std::string_view) const;
template Array<int32_t> File::read_array<int32_t>(std::string_view) const;

StoredType File::stored_type(std::string_view path) const {
  const Handle dataset = open_dataset(file_.get(), path);
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Dget_type(dataset.get())), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  return {type_class == H5T_FLOAT     ? ValueClass::floating
          : type_class == H5T_INTEGER ? ValueClass::integer
                                      : ValueClass::other,
          H5Tget_size(type.get())};
}

bool File::has_dataset(std::string_view path) const {
  if (!exists(path)) return false;
  const hid_t object = H5Oopen(file_.get(), owned(path).c_str(), H5P_DEFAULT);
  if (object < 0) return false;
  const Handle owned_object(object, H5Oclose);
  return H5Iget_type(object) == H5I_DATASET;
}

bool File::exists(std::string_view path) const {
  const std::string text(path);
  if (text == "/") return true;
  // Each prefix must exist before H5Lexists may look one level further.
  for (std::size_t slash = text.find('/', 1); ; slash = text.find('/', slash + 1)) {
    const std::string prefix = text.substr(0, slash);
    if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

std::vector<std::string> File::datasets(std::string_view group) const {
  std::vector<std::string> names;
  const Handle handle(ATTNSCALE_HDF5_CHECK(H5Gopen2(file_.get(), owned(group).c_str(), H5P_DEFAULT)), H5Gclose);
  VisitState state{&names, H5I_DATASET};
  ATTNSCALE_HDF5_CHECK(H5Lvisit(handle.get(), H5_INDEX_NAME, H5_ITER_INC, visit_link, &state));
  return names;
}

std::vector<std::string> File::groups(std::string_view group) const {
  std::vector<std::string> names;
  const Handle handle(ATTNSCALE_HDF5_CHECK(H5Gopen2(file_.get(), owned(group).c_str(), H5P_DEFAULT)), H5Gclose);
  VisitState state{&names, H5I_GROUP};
  hsize_t index = 0;
  ATTNSCALE_HDF5_CHECK(H5Literate(handle.get(), H5_INDEX_NAME, H5_ITER_INC, &index, visit_link, &state));
  return names;
}

namespace {

Handle create_attribute(hid_t file, std::string_view object, std::string_view name, hid_t type) {
  const Handle target = open_object(file, object);
  const Handle space(ATTNSCALE_HDF5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  return Handle(ATTNSCALE_HDF5_CHECK(H5Acreate2(target.get(), owned(name).c_str(), type, space.get(), H5P_DEFAULT,
                                                H5P_DEFAULT)),
                H5Aclose);
}

struct OpenAttribute {
  Handle attribute;
  Handle type;
};

// Opens attribute `name` of `object`; h5::Error unless its type class is `wanted` (`kind` in words).
OpenAttribute open_attribute(hid_t file, const fs::path& path, std::string_view object, std::string_view name,
                             H5T_class_t wanted, std::string_view kind) {
  OpenAttribute a;
  a.attribute = Handle(ATTNSCALE_HDF5_CHECK(H5Aopen_by_name(file, owned(object).c_str(), owned(name).c_str(),
                                                            H5P_DEFAULT, H5P_DEFAULT)),
                       H5Aclose);
  a.type = Handle(ATTNSCALE_HDF5_CHECK(H5Aget_type(a.attribute.get())), H5Tclose);
  if (H5Tget_class(a.type.get()) != wanted)
    throw Error(fmt::format("[hdf5] {}: attribute '{}' of '{}' is not {}", path.string(), name, object, kind));
  return a;
}

}  // namespace

void File::set_attribute(std::string_view object, std::string_view name, std::string_view value) {
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  ATTNSCALE_HDF5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE));
  ATTNSCALE_HDF5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  const Handle attribute = create_attribute(file_.get(), object, name, type.get());
  const std::string text(value);
  const char* pointer = text.c_str();
  ATTNSCALE_HDF5_CHECK(H5Awrite(attribute.get(), type.get(), &pointer));
}

void File::set_attribute(std::string_view object, std::string_view name, std::int64_t value) {
  const Handle attribute = create_attribute(file_.get(), object, name, H5T_STD_I64LE);
  ATTNSCALE_HDF5_CHECK(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value));
}

std::string File::string_attribute(std::string_view object, std::string_view name) const {
  const OpenAttribute a = open_attribute(file_.get(), path_, object, name, H5T_STRING, "a string");
  const Handle memory(ATTNSCALE_HDF5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  ATTNSCALE_HDF5_CHECK(H5Tset_cset(memory.get(), H5Tget_cset(a.type.get())));
  if (ATTNSCALE_HDF5_CHECK(H5Tis_variable_str(a.type.get())) > 0) {
    ATTNSCALE_HDF5_CHECK(H5Tset_size(memory.get(), H5T_VARIABLE));
    char* value = nullptr;
    ATTNSCALE_HDF5_CHECK(H5Aread(a.attribute.get(), memory.get(), &value));
    std::string text = value ? value : "";
    H5free_memory(value);
    return text;
  }
  const std::size_t size = H5Tget_size(a.type.get());
  ATTNSCALE_HDF5_CHECK(H5Tset_size(memory.get(), size + 1));
  std::string text(size + 1, '\0');
  ATTNSCALE_HDF5_CHECK(H5Aread(a.attribute.get(), memory.get(), text.data()));
  text.resize(text.find('\0'));
  return text;
}

std::int64_t File::int_attribute(std::string_view object, std::string_view name) const {
  const OpenAttribute a = open_attribute(file_.get(), path_, object, name, H5T_INTEGER, "an integer");
  std::int64_t value = 0;
  ATTNSCALE_HDF5_CHECK(H5Aread(a.attribute.get(), H5T_NATIVE_INT64, &value));
  return value;
}

bool File::has_attribute(std::string_view object, std::string_view name) const {
  return H5Aexists_by_name(file_.get(), owned(object).c_str(), owned(name).c_str(), H5P_DEFAULT) > 0;
}

double File::number_attribute(std::string_view object, std::string_view name) const {
  const Handle attribute(ATTNSCALE_HDF5_CHECK(H5Aopen_by_name(file_.get(), owned(object).c_str(),
                                                              owned(name).c_str(), H5P_DEFAULT, H5P_DEFAULT)),
                         H5Aclose);
  const Handle type(ATTNSCALE_HDF5_CHECK(H5Aget_type(attribute.get())), H5Tclose);
  const Handle space(ATTNSCALE_HDF5_CHECK(H5Aget_space(attribute.get())), H5Sclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if ((type_class != H5T_INTEGER && type_class != H5T_FLOAT) || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error(fmt::format("[hdf5] {}: attribute '{}' of '{}' is not a single number", path_.string(), name, object));
  double value = 0;
  ATTNSCALE_HDF5_CHECK(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value));
  return value;
}

}  // namespace attnscale::h5

#include "apps/op_check_h5.h"

#include <filesystem>

#include "framework/io/hdf5.h"

namespace attnscale::app {
namespace {

template <typename T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else return H5T_NATIVE_INT32;
}

}  // namespace

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

H5Reader::H5Reader(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path))
    throw DataError(fmt::format("[op-check] {}: no such file", path));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw DataError(fmt::format("[op-check] {}: not an HDF5 file", path));
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw DataError(fmt::format("[op-check] {}: cannot open the HDF5 file", path));
  file_ = H5Handle(id, H5Fclose);
}

bool H5Reader::has_dataset(const std::string& name) const {
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) return false;
  const hid_t object = H5Oopen(file_.get(), name.c_str(), H5P_DEFAULT);
  if (object < 0) return false;
  const H5Handle owned(object, H5Oclose);
  return H5Iget_type(object) == H5I_DATASET;
}

H5Class H5Reader::dataset_class(const std::string& name) const {
  try {
    const H5Handle set(ATTNSCALE_H5_CHECK(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT)),
                       H5Dclose);
    const H5Handle type(ATTNSCALE_H5_CHECK(H5Dget_type(set.get())), H5Tclose);
    switch (H5Tget_class(type.get())) {
      case H5T_FLOAT: return H5Class::floating;
      case H5T_INTEGER: return H5Class::integer;
      default: return H5Class::other;
    }
  } catch (const Hdf5Error& e) {
    throw DataError(fmt::format("[op-check] {}: dataset '{}': {}", path_, name, e.what()));
  }
}

size_t H5Reader::dataset_element_size(const std::string& name) const {
  try {
    const H5Handle set(ATTNSCALE_H5_CHECK(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT)),
                       H5Dclose);
    const H5Handle type(ATTNSCALE_H5_CHECK(H5Dget_type(set.get())), H5Tclose);
    return H5Tget_size(type.get());
  } catch (const Hdf5Error& e) {
    throw DataError(fmt::format("[op-check] {}: dataset '{}': {}", path_, name, e.what()));
  }
}

template <typename T>
H5Array<T> H5Reader::read(const std::string& name) const {
  if (!has_dataset(name))
    throw DataError(fmt::format("[op-check] {}: missing dataset '{}'", path_, name));
  const H5Class want = std::is_same_v<T, int32_t> ? H5Class::integer : H5Class::floating;
  if (dataset_class(name) != want)
    throw DataError(fmt::format("[op-check] {}: dataset '{}' must hold {} values", path_, name,
                                want == H5Class::integer ? "integer" : "floating-point"));
  try {
    const H5Handle set(ATTNSCALE_H5_CHECK(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT)),
                       H5Dclose);
    h5::check_declared_size(set.get(), name, sizeof(T));
    const H5Handle space(ATTNSCALE_H5_CHECK(H5Dget_space(set.get())), H5Sclose);
    const int rank = ATTNSCALE_H5_CHECK(H5Sget_simple_extent_ndims(space.get()));
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    ATTNSCALE_H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
    H5Array<T> out;
    size_t count = 1;
    for (const hsize_t d : dims) {
      out.dims.push_back(static_cast<int64_t>(d));
      count *= d;
    }
    out.data.resize(count);
    if (count > 0)
      ATTNSCALE_H5_CHECK(H5Dread(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 out.data.data()));
    return out;
  } catch (const Hdf5Error& e) {
    throw DataError(fmt::format("[op-check] {}: dataset '{}': {}", path_, name, e.what()));
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[op-check] {}: {}", path_, e.what()));
  }
}

bool H5Reader::has_attribute(const std::string& name) const {
  return H5Aexists(file_.get(), name.c_str()) > 0;
}

std::optional<std::string> H5Reader::string_attribute(const std::string& name) const {
  if (!has_attribute(name)) return std::nullopt;
  try {
    const H5Handle attr(ATTNSCALE_H5_CHECK(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT)),
                        H5Aclose);
    const H5Handle type(ATTNSCALE_H5_CHECK(H5Aget_type(attr.get())), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING)
      throw DataError(fmt::format("[op-check] {}: attribute '{}' must be a string", path_, name));
    if (ATTNSCALE_H5_CHECK(H5Tis_variable_str(type.get())) > 0) {
      const H5Handle mem(ATTNSCALE_H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
      ATTNSCALE_H5_CHECK(H5Tset_size(mem.get(), H5T_VARIABLE));
      // Same character set as the file (h5py writes UTF-8): HDF5 does not convert between them.
      ATTNSCALE_H5_CHECK(H5Tset_cset(mem.get(), H5Tget_cset(type.get())));
      char* value = nullptr;
      ATTNSCALE_H5_CHECK(H5Aread(attr.get(), mem.get(), &value));
      std::string out = value ? value : "";
      H5free_memory(value);
      return out;
    }
    const size_t size = H5Tget_size(type.get());
    const H5Handle mem(ATTNSCALE_H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
    ATTNSCALE_H5_CHECK(H5Tset_size(mem.get(), size + 1));
    ATTNSCALE_H5_CHECK(H5Tset_cset(mem.get(), H5Tget_cset(type.get())));
    std::string buffer(size + 1, '\0');
    ATTNSCALE_H5_CHECK(H5Aread(attr.get(), mem.get(), buffer.data()));
    return std::string(buffer.c_str());
  } catch (const Hdf5Error& e) {
    throw DataError(fmt::format("[op-check] {}: attribute '{}': {}", path_, name, e.what()));
  }
}

std::optional<double> H5Reader::number_attribute(const std::string& name) const {
  if (!has_attribute(name)) return std::nullopt;
  try {
    const H5Handle attr(ATTNSCALE_H5_CHECK(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT)),
                        H5Aclose);
    const H5Handle type(ATTNSCALE_H5_CHECK(H5Aget_type(attr.get())), H5Tclose);
    const H5Handle space(ATTNSCALE_H5_CHECK(H5Aget_space(attr.get())), H5Sclose);
    const auto cls = H5Tget_class(type.get());
    if ((cls != H5T_INTEGER && cls != H5T_FLOAT) ||
        H5Sget_simple_extent_npoints(space.get()) != 1)
      throw DataError(
          fmt::format("[op-check] {}: attribute '{}' must be a single number", path_, name));
    double value = 0;
    ATTNSCALE_H5_CHECK(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value));
    return value;
  } catch (const Hdf5Error& e) {
    throw DataError(fmt::format("[op-check] {}: attribute '{}': {}", path_, name, e.what()));
  }
}

H5Writer::H5Writer(const std::string& path)
    : file_(ATTNSCALE_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)),
            H5Fclose) {}

template <typename T>
void H5Writer::write(const std::string& name, const std::vector<int64_t>& dims,
                     const std::vector<T>& data) {
  std::vector<hsize_t> shape(dims.begin(), dims.end());
  const H5Handle space(
      ATTNSCALE_H5_CHECK(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr)),
      H5Sclose);
  const H5Handle set(ATTNSCALE_H5_CHECK(H5Dcreate2(file_.get(), name.c_str(), native_type<T>(),
                                                   space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                                   H5P_DEFAULT)),
                     H5Dclose);
  if (!data.empty())
    ATTNSCALE_H5_CHECK(
        H5Dwrite(set.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()));
}

void H5Writer::string_attribute(const std::string& name, const std::string& value) {
  const H5Handle type(ATTNSCALE_H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  ATTNSCALE_H5_CHECK(H5Tset_size(type.get(), value.size() + 1));
  const H5Handle space(ATTNSCALE_H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  const H5Handle attr(ATTNSCALE_H5_CHECK(H5Acreate2(file_.get(), name.c_str(), type.get(),
                                                    space.get(), H5P_DEFAULT, H5P_DEFAULT)),
                      H5Aclose);
  ATTNSCALE_H5_CHECK(H5Awrite(attr.get(), type.get(), value.c_str()));
}

template H5Array<float> H5Reader::read<float>(const std::string&) const;
template H5Array<double> H5Reader::read<double>(const std::string&) const;
template H5Array<int32_t> H5Reader::read<int32_t>(const std::string&) const;
template void H5Writer::write<float>(const std::string&, const std::vector<int64_t>&,
                                     const std::vector<float>&);
template void H5Writer::write<double>(const std::string&, const std::vector<int64_t>&,
                                      const std::vector<double>&);

}  // namespace attnscale::app

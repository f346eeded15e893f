#include "framework/data/doc_store.h"

#include <fmt/format.h>

#include "base/error.h"
#include "framework/io/hdf5.h"

namespace attnscale::data {
namespace {

constexpr const char* kFormat = "attnscale-docs";
constexpr int64_t kVersion = 1;

Tensor int_tensor(const std::vector<int64_t>& values) {
  return Tensor::from(values, {static_cast<int64_t>(values.size())});
}

}  // namespace

void write_strings(h5::File& file, const std::string& group, const std::vector<std::string>& strings) {
  std::vector<int64_t> offsets{0};
  std::string bytes;
  for (const auto& s : strings) {
    bytes += s;
    offsets.push_back(static_cast<int64_t>(bytes.size()));
  }
  file.write_tensor(group + "/offsets", int_tensor(offsets));
  const hsize_t dims[1] = {bytes.size()};
  const h5::Handle space(ATTNSCALE_HDF5_CHECK(H5Screate_simple(1, dims, nullptr)), H5Sclose);
  const h5::Handle dataset(ATTNSCALE_HDF5_CHECK(H5Dcreate2(file.id(), (group + "/bytes").c_str(), H5T_STD_U8LE,
                                                           space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                           H5Dclose);
  if (!bytes.empty())
    ATTNSCALE_HDF5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()));
}

std::vector<std::string> read_strings(const h5::File& file, const std::string& group) {
  const auto offsets = file.read_tensor(group + "/offsets").to_vector<int64_t>();
  const h5::Handle dataset(ATTNSCALE_HDF5_CHECK(H5Dopen2(file.id(), (group + "/bytes").c_str(), H5P_DEFAULT)),
                           H5Dclose);
  h5::check_declared_size(dataset.get(), group + "/bytes", 1);
  const h5::Handle space(ATTNSCALE_HDF5_CHECK(H5Dget_space(dataset.get())), H5Sclose);
  const auto size = static_cast<size_t>(ATTNSCALE_HDF5_CHECK(H5Sget_simple_extent_npoints(space.get())));
  std::string bytes(size, '\0');
  if (size > 0)
    ATTNSCALE_HDF5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()));
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != static_cast<int64_t>(size))
    throw DataError(fmt::format("[doc_store] {}: {}/offsets do not cover its {} bytes", file.path().string(), group,
                                size));
  std::vector<std::string> strings;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (offsets[i + 1] < offsets[i])
      throw DataError(fmt::format("[doc_store] {}: {}/offsets decrease at {}", file.path().string(), group, i));
    strings.push_back(bytes.substr(offsets[i], offsets[i + 1] - offsets[i]));
  }
  return strings;
}

namespace {

void check_offsets(const std::vector<int64_t>& offsets, int64_t end, const char* name, const std::string& where) {
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != end)
    throw DataError(fmt::format("[doc_store] {}: {} must run from 0 to {}", where, name, end));
  for (size_t i = 0; i + 1 < offsets.size(); ++i)
    if (offsets[i + 1] <= offsets[i])
      throw DataError(fmt::format("[doc_store] {}: {} entry {} is empty or decreasing", where, name, i));
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::validation: return "validation";
    case Split::test: return "test";
  }
  return "?";
}

const char* token_unit_name(TokenUnit unit) { return unit == TokenUnit::character ? "char" : "word"; }

void DocCorpus::add_document(const std::vector<std::vector<int64_t>>& sentences, int64_t label) {
  ATTNSCALE_CHECK(!sentences.empty(), "doc_store", "a document needs at least one sentence");
  for (const auto& s : sentences) {
    ATTNSCALE_CHECK(!s.empty(), "doc_store", "a sentence needs at least one token");
    tokens.insert(tokens.end(), s.begin(), s.end());
    sentence_offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  document_offsets.push_back(static_cast<int64_t>(sentence_offsets.size()) - 1);
  labels.push_back(label);
}

void DocCorpus::validate(const std::string& where) const {
  check_offsets(sentence_offsets, static_cast<int64_t>(tokens.size()), "sentence_offsets", where);
  check_offsets(document_offsets, static_cast<int64_t>(sentence_offsets.size()) - 1, "document_offsets", where);
  if (static_cast<int64_t>(document_offsets.size()) - 1 != num_documents())
    throw DataError(fmt::format("[doc_store] {}: {} documents but {} labels", where, document_offsets.size() - 1,
                                labels.size()));
  const auto vocab = static_cast<int64_t>(vocabulary.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw DataError(fmt::format("[doc_store] {}: token {} has id {} outside the vocabulary of {}", where, i,
                                  tokens[i], vocab));
  for (size_t d = 0; d < labels.size(); ++d)
    if (labels[d] < 0 || labels[d] >= static_cast<int64_t>(label_names.size()))
      throw DataError(fmt::format("[doc_store] {}: document {} has label {} but there are {} label names", where, d,
                                  labels[d], label_names.size()));
  for (int s = 0; s < 3; ++s)
    for (const int64_t d : splits[s])
      if (d < 0 || d >= num_documents())
        throw DataError(fmt::format("[doc_store] {}: split {} names document {} of {}", where,
                                    split_name(static_cast<Split>(s)), d, num_documents()));
}

void write_doc_corpus(const std::filesystem::path& path, const DocCorpus& corpus, const std::string& rules) {
  corpus.validate(path.string());
  h5::File file = h5::File::create(path);
  file.set_attribute("/", "format", kFormat);
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "rules", rules);
  file.set_attribute("/", "source", corpus.source);
  file.set_attribute("/", "unit", token_unit_name(corpus.unit));
  file.write_tensor("tokens", int_tensor(corpus.tokens));
  file.write_tensor("sentence_offsets", int_tensor(corpus.sentence_offsets));
  file.write_tensor("document_offsets", int_tensor(corpus.document_offsets));
  file.write_tensor("labels", int_tensor(corpus.labels));
  for (int s = 0; s < 3; ++s)
    file.write_tensor(std::string("splits/") + split_name(static_cast<Split>(s)), int_tensor(corpus.splits[s]));
  write_strings(file, "vocabulary", corpus.vocabulary);
  write_strings(file, "label_names", corpus.label_names);
  file.close();
}

bool is_doc_corpus(const std::filesystem::path& path) {
  if (path.empty() || !std::filesystem::exists(path)) return false;
  const h5::File file = h5::File::open_read(path);
  return file.has_attribute("/", "format") && file.string_attribute("/", "format") == kFormat;
}

DocCorpus read_doc_corpus(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw DataError(fmt::format("[doc_store] '{}' does not exist (make it with `attnscale prepare docs`)",
                                path.string()));
  DocCorpus corpus;
  try {
    const h5::File file = h5::File::open_read(path);
    if (!file.exists("tokens") || file.string_attribute("/", "format") != kFormat)
      throw DataError(fmt::format("[doc_store] '{}' is not an attnscale document corpus", path.string()));
    const int64_t version = file.int_attribute("/", "version");
    if (version != kVersion)
      throw DataError(fmt::format("[doc_store] '{}' has format version {}, this build reads {}", path.string(),
                                  version, kVersion));
    corpus.source = file.string_attribute("/", "source");
    if (file.has_attribute("/", "unit")) {
      const std::string unit = file.string_attribute("/", "unit");
      if (unit != "word" && unit != "char")
        throw DataError(fmt::format("[doc_store] '{}': attribute unit is '{}', not word or char", path.string(), unit));
      corpus.unit = unit == "char" ? TokenUnit::character : TokenUnit::word;
    }
    corpus.tokens = file.read_tensor("tokens").to_vector<int64_t>();
    corpus.sentence_offsets = file.read_tensor("sentence_offsets").to_vector<int64_t>();
    corpus.document_offsets = file.read_tensor("document_offsets").to_vector<int64_t>();
    corpus.labels = file.read_tensor("labels").to_vector<int64_t>();
    for (int s = 0; s < 3; ++s)
      corpus.splits[s] = file.read_tensor(std::string("splits/") + split_name(static_cast<Split>(s))).to_vector<int64_t>();
    corpus.vocabulary = read_strings(file, "vocabulary");
    corpus.label_names = read_strings(file, "label_names");
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[doc_store] '{}' cannot be read: {}", path.string(), e.what()));
  }
  corpus.validate(path.string());
  return corpus;
}

}  // namespace attnscale::data

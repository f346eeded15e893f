#include "framework/data/pair_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"

namespace attnscale::data {
namespace {

constexpr const char* kFormat = "attnscale-pairs";
constexpr int64_t kVersion = 1;

Tensor int_tensor(const std::vector<int64_t>& values) {
  return Tensor::from(values, {static_cast<int64_t>(values.size())});
}

std::string side_path(PairSide side, const char* name) { return fmt::format("{}/{}", pair_side_name(side), name); }

int64_t extent(hid_t dataset) {
  const h5::Handle space(ATTNSCALE_HDF5_CHECK(H5Dget_space(dataset)), H5Sclose);
  return ATTNSCALE_HDF5_CHECK(H5Sget_simple_extent_npoints(space.get()));
}

// A 1-D dataset opened for reads of scattered ranges, with a bounded chunk cache.
h5::Handle open_ranges(const h5::File& file, const std::string& name) {
  const h5::Handle access(ATTNSCALE_HDF5_CHECK(H5Pcreate(H5P_DATASET_ACCESS)), H5Pclose);
  ATTNSCALE_HDF5_CHECK(H5Pset_chunk_cache(access.get(), 1009, PairStore::kChunkCacheBytes, 0.75));
  return h5::Handle(ATTNSCALE_HDF5_CHECK(H5Dopen2(file.id(), name.c_str(), access.get())), H5Dclose);
}

// Offsets of N ragged entries over a dataset of `end` values: 0 first, `end` last, non-decreasing
// (increasing when every entry must be non-empty).
void check_offsets(const std::vector<int64_t>& offsets, int64_t entries, int64_t end, bool nonempty,
                   const std::string& file, const std::string& name) {
  if (static_cast<int64_t>(offsets.size()) != entries + 1)
    throw DataError(fmt::format("[pairs] {}: {} has {} entries, expected {} (one more than the pairs)", file, name,
                                offsets.size(), entries + 1));
  if (offsets.front() != 0 || offsets.back() != end)
    throw DataError(fmt::format("[pairs] {}: {} must run from 0 to {}, the size of its data; it runs from {} to {}",
                                file, name, end, offsets.front(), offsets.back()));
  for (size_t i = 0; i + 1 < offsets.size(); ++i)
    if (offsets[i + 1] < offsets[i] + (nonempty ? 1 : 0))
      throw DataError(fmt::format("[pairs] {}: {}[{}] = {} is {} {}[{}] = {}", file, name, i + 1, offsets[i + 1],
                                  nonempty ? "not above" : "below", name, i, offsets[i]));
}

// The ranges [offsets[p], offsets[p + 1]) of `pairs` from a 1-D dataset, in one H5Dread: the union
// of the ranges is selected and comes back in file order.
template <typename T>
std::vector<std::vector<T>> read_ranges(hid_t dataset, hid_t memory_type, const std::vector<int64_t>& offsets,
                                        std::span<const int64_t> pairs) {
  const auto n = static_cast<int64_t>(offsets.size()) - 1;
  std::vector<int64_t> unique(pairs.begin(), pairs.end());
  for (const int64_t p : unique) ATTNSCALE_CHECK(p >= 0 && p < n, "pairs", "pair {} is outside the {} pairs", p, n);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  const h5::Handle file_space(ATTNSCALE_HDF5_CHECK(H5Dget_space(dataset)), H5Sclose);
  ATTNSCALE_HDF5_CHECK(H5Sselect_none(file_space.get()));
  std::vector<int64_t> position(unique.size());  // of each unique pair in the buffer
  hsize_t total = 0;
  for (size_t u = 0; u < unique.size(); ++u) {
    position[u] = static_cast<int64_t>(total);
    const hsize_t start = static_cast<hsize_t>(offsets[unique[u]]);
    const hsize_t count = static_cast<hsize_t>(offsets[unique[u] + 1] - offsets[unique[u]]);
    if (count == 0) continue;
    ATTNSCALE_HDF5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_OR, &start, nullptr, &count, nullptr));
    total += count;
  }
  std::vector<T> buffer(total);
  if (total > 0) {
    const h5::Handle memory_space(ATTNSCALE_HDF5_CHECK(H5Screate_simple(1, &total, nullptr)), H5Sclose);
    ATTNSCALE_HDF5_CHECK(
        H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, buffer.data()));
  }
  std::vector<std::vector<T>> out;
  out.reserve(pairs.size());
  for (const int64_t p : pairs) {
    const auto u = std::lower_bound(unique.begin(), unique.end(), p) - unique.begin();
    const auto begin = buffer.begin() + position[u];
    out.emplace_back(begin, begin + (offsets[p + 1] - offsets[p]));
  }
  return out;
}

std::vector<std::string> as_strings(const std::vector<std::vector<unsigned char>>& bytes) {
  std::vector<std::string> out;
  out.reserve(bytes.size());
  for (const auto& b : bytes) out.emplace_back(b.begin(), b.end());
  return out;
}

h5::File open_pair_file(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw DataError(fmt::format("[pairs] '{}' does not exist (make it with `attnscale prepare pairs`)", path.string()));
  try {
    h5::File file = h5::File::open_read(path);
    if (!file.has_attribute("/", "format") || file.string_attribute("/", "format") != kFormat)
      throw DataError(
          fmt::format("[pairs] '{}' is not an attnscale pair corpus (`attnscale prepare pairs`)", path.string()));
    return file;
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[pairs] '{}' cannot be read: {}", path.string(), e.what()));
  }
}

}  // namespace

const char* pair_side_name(PairSide side) { return side == PairSide::source ? "source" : "target"; }

void PairCorpus::add_pair(std::string reference, std::array<std::vector<int32_t>, 2> ids,
                          std::array<std::string, 2> pair_texts) {
  for (int s = 0; s < 2; ++s) {
    ATTNSCALE_CHECK(!ids[s].empty(), "pairs", "pair '{}' has no {} token", reference,
                    pair_side_name(static_cast<PairSide>(s)));
    tokens[s].insert(tokens[s].end(), ids[s].begin(), ids[s].end());
    offsets[s].push_back(static_cast<int64_t>(tokens[s].size()));
    texts[s].push_back(std::move(pair_texts[s]));
  }
  references.push_back(std::move(reference));
}

void write_pair_corpus(const std::filesystem::path& path, const PairCorpus& corpus) {
  h5::File file = h5::File::create(path);
  file.set_attribute("/", "format", kFormat);
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "source", corpus.source);
  file.set_attribute("/", "validation_books", corpus.validation_books);
  file.set_attribute("/", "test_books", corpus.test_books);
  for (const PairSide side : {PairSide::source, PairSide::target}) {
    const int s = static_cast<int>(side);
    write_strings(file, side_path(side, "model"), {corpus.models[s]});
    const std::vector<int64_t> dims{static_cast<int64_t>(corpus.tokens[s].size())};
    file.write_array<int32_t>(side_path(side, "tokens"), dims, corpus.tokens[s]);
    file.write_tensor(side_path(side, "offsets"), int_tensor(corpus.offsets[s]));
    std::vector<int32_t> lengths;
    for (size_t i = 0; i + 1 < corpus.offsets[s].size(); ++i)
      lengths.push_back(static_cast<int32_t>(corpus.offsets[s][i + 1] - corpus.offsets[s][i]));
    const std::vector<int64_t> length_dims{static_cast<int64_t>(lengths.size())};
    file.write_array<int32_t>(side_path(side, "lengths"), length_dims, lengths);
    write_strings(file, side_path(side, "text"), corpus.texts[s]);
  }
  write_strings(file, "references", corpus.references);
  for (int s = 0; s < 3; ++s)
    file.write_tensor(std::string("splits/") + split_name(static_cast<Split>(s)), int_tensor(corpus.splits[s]));
  file.close();
}

PairStore::PairStore(const std::filesystem::path& path) : path_(path), file_(open_pair_file(path)) {
  const std::string where = path.string();
  try {
    const int64_t version = file_.int_attribute("/", "version");
    if (version != kVersion)
      throw DataError(fmt::format("[pairs] '{}' has format version {}, this build reads {}", where, version, kVersion));
    validation_books_ = file_.string_attribute("/", "validation_books");
    test_books_ = file_.string_attribute("/", "test_books");
    reference_offsets_ = file_.read_tensor("references/offsets").to_vector<int64_t>();
    const auto pairs = static_cast<int64_t>(reference_offsets_.size()) - 1;
    if (pairs < 1) throw DataError(fmt::format("[pairs] {}: references/offsets holds no pair", where));
    reference_data_ = open_ranges(file_, "references/bytes");
    check_offsets(reference_offsets_, pairs, extent(reference_data_.get()), true, where, "references/offsets");
    for (const PairSide side : {PairSide::source, PairSide::target}) {
      const int s = static_cast<int>(side);
      const std::vector<std::string> model = read_strings(file_, side_path(side, "model"));
      if (model.size() != 1)
        throw DataError(fmt::format("[pairs] {}: {} holds {} strings, expected one model", where,
                                    side_path(side, "model"), model.size()));
      models_[s] = std::make_unique<SubwordModel>(model[0], fmt::format("{}: {}", where, side_path(side, "model")));
      offsets_[s] = file_.read_tensor(side_path(side, "offsets")).to_vector<int64_t>();
      token_data_[s] = open_ranges(file_, side_path(side, "tokens"));
      check_offsets(offsets_[s], pairs, extent(token_data_[s].get()), true, where, side_path(side, "offsets"));
      const h5::Array<int32_t> lengths = file_.read_array<int32_t>(side_path(side, "lengths"));
      if (static_cast<int64_t>(lengths.data.size()) != pairs)
        throw DataError(fmt::format("[pairs] {}: {} has {} entries for {} pairs", where, side_path(side, "lengths"),
                                    lengths.data.size(), pairs));
      for (int64_t i = 0; i < pairs; ++i)
        if (lengths.data[i] != length(side, i))
          throw DataError(fmt::format("[pairs] {}: {}[{}] = {} but the offsets give {}", where,
                                      side_path(side, "lengths"), i, lengths.data[i], length(side, i)));
      text_offsets_[s] = file_.read_tensor(side_path(side, "text") + "/offsets").to_vector<int64_t>();
      text_data_[s] = open_ranges(file_, side_path(side, "text") + "/bytes");
      check_offsets(text_offsets_[s], pairs, extent(text_data_[s].get()), true, where,
                    side_path(side, "text") + "/offsets");
    }
    std::vector<int> owner(static_cast<size_t>(pairs), -1);
    for (int s = 0; s < 3; ++s) {
      const std::string name = std::string("splits/") + split_name(static_cast<Split>(s));
      splits_[s] = file_.read_tensor(name).to_vector<int64_t>();
      for (size_t i = 0; i < splits_[s].size(); ++i) {
        const int64_t p = splits_[s][i];
        if (p < 0 || p >= pairs || (i > 0 && p <= splits_[s][i - 1]))
          throw DataError(fmt::format("[pairs] {}: {}[{}] = {} is not an ascending pair id below {}", where, name, i,
                                      p, pairs));
        if (owner[p] >= 0)
          throw DataError(fmt::format("[pairs] {}: pair {} is in both splits/{} and {}", where, p,
                                      split_name(static_cast<Split>(owner[p])), name));
        owner[p] = s;
      }
    }
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[pairs] '{}' cannot be read: {}", where, e.what()));
  }
}

std::vector<std::vector<int32_t>> PairStore::tokens(PairSide side, std::span<const int64_t> pairs) const {
  const int s = static_cast<int>(side);
  std::vector<std::vector<int32_t>> ids;
  try {
    ids = read_ranges<int32_t>(token_data_[s].get(), H5T_NATIVE_INT32, offsets_[s], pairs);
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[pairs] '{}': reading {} failed: {}", path_.string(), side_path(side, "tokens"),
                                e.what()));
  }
  const int64_t vocab = models_[s]->vocab_size();
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = 0; j < ids[i].size(); ++j)
      if (ids[i][j] < 0 || ids[i][j] >= vocab)
        throw DataError(fmt::format("[pairs] {}: {}[{}] = {} is outside the {} vocabulary of {} pieces",
                                    path_.string(), side_path(side, "tokens"), offsets_[s][pairs[i]] + j, ids[i][j],
                                    pair_side_name(side), vocab));
  return ids;
}

std::vector<std::string> PairStore::texts(PairSide side, std::span<const int64_t> pairs) const {
  const int s = static_cast<int>(side);
  try {
    return as_strings(read_ranges<unsigned char>(text_data_[s].get(), H5T_NATIVE_UCHAR, text_offsets_[s], pairs));
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[pairs] '{}': reading {}/bytes failed: {}", path_.string(), side_path(side, "text"),
                                e.what()));
  }
}

std::vector<std::string> PairStore::references(std::span<const int64_t> pairs) const {
  try {
    return as_strings(read_ranges<unsigned char>(reference_data_.get(), H5T_NATIVE_UCHAR, reference_offsets_, pairs));
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[pairs] '{}': reading references/bytes failed: {}", path_.string(), e.what()));
  }
}

}  // namespace attnscale::data

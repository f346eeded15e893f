#include "framework/checkpoint/reader.h"

#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"
#include "framework/core/autograd/node.h"
#include "framework/checkpoint/format.h"
#include "framework/io/durable_fs.h"
#include "framework/io/hdf5.h"
#include "framework/core/tensor/non_finite.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

// HDF5 failures while reading a verified file mean damaged content: CheckpointError naming the
// file. A lock failure is the environment's, and keeps its own type and hint.
template <typename Read>
auto reading(const fs::path& file, Read&& read) {
  try {
    return read();
  } catch (const h5::LockError&) {
    throw;
  } catch (const h5::Error& e) {
    throw CheckpointError(fmt::format("[checkpoint] {}: unreadable: {}", file.string(), e.what()));
  }
}

}  // namespace

CheckpointReader::CheckpointReader(fs::path dir, Verify verify) : dir_(std::move(dir)) {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec))
    throw CheckpointError(fmt::format("[checkpoint] {}: no such checkpoint directory", dir_.string()));
  const fs::path manifest_file = dir_ / kManifestFile;
  if (!fs::exists(manifest_file, ec))
    throw CheckpointError(fmt::format(
        "[checkpoint] {}: missing (the save did not finish, or the file was removed): not a committed checkpoint",
        manifest_file.string()));
  manifest_ = parse_manifest(read_text_file(manifest_file), manifest_file);
  // Selection and pruning go by the directory's name: a renamed or swapped step_N must not pass.
  const fs::path name = dir_.has_filename() ? dir_.filename() : dir_.parent_path().filename();  // "step_5/" too
  if (const auto named_step = step_of_dir_name(name.string()); named_step && *named_step != manifest_.step)
    throw CheckpointError(fmt::format("[checkpoint] {}: the directory is named for step {}, but its manifest says step "
                                      "{} (renamed or swapped checkpoint directories?)",
                                      dir_.string(), *named_step, manifest_.step));
  for (const std::string_view required : {kModelFile, kRanksFile})
    if (!manifest_.find(required))
      throw CheckpointError(fmt::format("[checkpoint] {}: corrupt manifest: it lists no {}", manifest_file.string(), required));
  verify_files(manifest_, dir_, verify == Verify::hashes);
}

NamedTensors CheckpointReader::read_group(std::string_view group) const {
  const fs::path file = dir_ / kModelFile;
  return reading(file, [&] {
    const h5::File in = h5::File::open_read(file);
    NamedTensors tensors;
    if (!in.exists(group)) return tensors;
    for (const std::string& name : in.datasets(group))
      tensors.push_back({name, in.read_tensor(fmt::format("{}/{}", group, name))});
    return tensors;
  });
}

SavedRanks CheckpointReader::read_ranks() const {
  const fs::path file = dir_ / kRanksFile;
  return reading(file, [&] {
    const h5::File in = h5::File::open_read(file);
    SavedRanks saved;
    saved.grid = GridShape{static_cast<int>(in.int_attribute("/", "dp")), static_cast<int>(in.int_attribute("/", "cp")),
                           static_cast<int>(in.int_attribute("/", "ulysses"))};
    const std::int64_t world_size = in.int_attribute("/", "world_size");
    if (world_size != manifest_.world_size || saved.grid.dp != manifest_.grid.dp || saved.grid.cp != manifest_.grid.cp ||
        saved.grid.ulysses != manifest_.grid.ulysses)
      throw CheckpointError(fmt::format("[checkpoint] {}: holds {} ranks (dp {}, cp {}), the manifest says {} (dp {}, cp {})",
                                        file.string(), world_size, saved.grid.dp, saved.grid.cp, manifest_.world_size,
                                        manifest_.grid.dp, manifest_.grid.cp));
    for (int r = 0; r < world_size; ++r) {
      const std::string group = rank_group(r);
      if (!in.exists(group)) throw CheckpointError(fmt::format("[checkpoint] {}: no group '{}'", file.string(), group));
      const Tensor cursor = in.read_tensor(group + "/data_cursor");
      if (cursor.dtype() != DType::i64 || cursor.numel() != 1)
        throw CheckpointError(fmt::format("[checkpoint] {}: '{}/data_cursor' is not one int64", file.string(), group));
      RankState state;
      state.data_cursor = cursor.data<std::int64_t>()[0];
      const std::string streams = group + "/generators";
      if (in.exists(streams))
        for (const std::string& name : in.datasets(streams)) {
          const std::vector<std::uint64_t> words = in.read_u64(fmt::format("{}/{}", streams, name));
          if (words.size() != 2)
            throw CheckpointError(fmt::format("[checkpoint] {}: '{}/{}' holds {} values, not [seed, offset]", file.string(),
                                              streams, name, words.size()));
          state.generators.push_back({name, words[0], words[1]});
        }
      saved.ranks.push_back(std::move(state));
    }
    return saved;
  });
}

std::string CheckpointReader::metrics_text() const {
  return manifest_.find(kMetricsFile) ? read_text_file(dir_ / kMetricsFile) : "";
}

void CheckpointReader::read_everything() const {
  const fs::path model = dir_ / kModelFile;
  reading(model, [&] {
    const h5::File in = h5::File::open_read(model);
    const std::int64_t step = in.int_attribute("/", "step");
    if (step != manifest_.step)
      throw CheckpointError(fmt::format("[checkpoint] {}: holds step {}, the manifest says {}", model.string(), step,
                                        manifest_.step));
    return 0;
  });
  std::vector<std::string> non_finite;
  for (const std::string_view group : {kParamsGroup, kBuffersGroup, kOptimizerGroup}) {
    for (const NamedTensor& t : read_group(group))
      if (auto found = first_non_finite(std::span(&t, 1))) {
        found->tensor = fmt::format("{}/{}", group, t.name);  // its path in the file
        non_finite.push_back(describe(*found));
      }
  }
  if (!non_finite.empty())
    throw CheckpointError(fmt::format("[checkpoint] {}: {} tensor(s) hold NaN or infinity (a diverged run): {}",
                                      model.string(), non_finite.size(), fmt::join(non_finite, "; ")));
  read_ranks();
}

void load_named_tensors(std::span<const NamedTensor> live, std::span<const NamedTensor> saved, std::string_view what,
                        const fs::path& source) {
  const auto refuse = [&](const std::string& why) {
    return CheckpointError(fmt::format("[checkpoint] {}: does not match this model: {}", source.string(), why));
  };
  std::unordered_map<std::string_view, const Tensor*> by_name;
  for (const NamedTensor& s : saved) by_name.emplace(s.name, &s.tensor);
  std::unordered_set<std::string_view> live_names;
  for (const NamedTensor& target : live) {
    live_names.insert(target.name);
    const auto it = by_name.find(target.name);
    if (it == by_name.end()) throw refuse(fmt::format("{} '{}' is not in the checkpoint", what, target.name));
    const Tensor& source_tensor = *it->second;
    if (source_tensor.shape() != target.tensor.shape() || source_tensor.dtype() != target.tensor.dtype())
      throw refuse(fmt::format("{} '{}' is {} {} in the checkpoint, {} {} in the model", what, target.name,
                               dtype_name(source_tensor.dtype()), shape_str(source_tensor.shape()),
                               dtype_name(target.tensor.dtype()), shape_str(target.tensor.shape())));
  }
  for (const NamedTensor& s : saved)
    if (!live_names.contains(s.name)) throw refuse(fmt::format("the checkpoint has {} '{}', the model does not", what, s.name));
  autograd::NoGradGuard no_grad;
  for (const NamedTensor& target : live) {
    Tensor destination = target.tensor;
    destination.copy_(*by_name.at(target.name));
  }
}

}  // namespace attnscale::checkpoint

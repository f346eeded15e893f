#include "framework/checkpoint/writer.h"

#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "base/error.h"
#include "base/logging.h"
#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/manifest.h"
#include "framework/io/durable_fs.h"
#include "framework/io/hdf5.h"
#include "framework/io/sha256.h"
#include "framework/core/tensor/non_finite.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

std::uint64_t name_hash(const std::string& name) {
  const Sha256Digest digest = sha256(std::as_bytes(std::span(name.data(), name.size())));
  std::uint64_t value = 0;
  std::memcpy(&value, digest.data(), sizeof value);
  return value;
}

// [cursor, streams, (name hash, seed, offset) per stream]: fixed-width words for all_gather.
std::vector<std::uint64_t> pack(const RankState& state) {
  std::vector<std::uint64_t> words{static_cast<std::uint64_t>(state.data_cursor), state.generators.size()};
  for (const GeneratorState& g : state.generators) words.insert(words.end(), {name_hash(g.name), g.seed, g.offset});
  return words;
}

// Rank r's words, with rank 0's stream names (every rank runs the same task).
RankState unpack(const std::vector<std::uint64_t>& words, const RankState& names, int rank) {
  const std::size_t streams = names.generators.size();
  if (words.size() != 2 + 3 * streams || words[1] != streams)
    throw RuntimeFailure(fmt::format("[checkpoint] rank {} has {} random streams, rank 0 has {}", rank,
                                     words.size() < 2 ? 0 : words[1], streams));
  RankState state;
  state.data_cursor = static_cast<std::int64_t>(words[0]);
  for (std::size_t i = 0; i < streams; ++i) {
    const std::string& name = names.generators[i].name;
    if (words[2 + 3 * i] != name_hash(name))
      throw RuntimeFailure(fmt::format("[checkpoint] rank {}'s random stream {} is not rank 0's '{}'", rank, i, name));
    state.generators.push_back({name, words[3 + 3 * i], words[4 + 3 * i]});
  }
  return state;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// A diverged run (NaN or infinity in its state) is not worth resuming: saving it would make it
// the newest checkpoint, and retention could delete the last good ones for it.
void refuse_non_finite(const Content& content) {
  const std::pair<std::string_view, const NamedTensors*> groups[] = {
      {"parameter", &content.parameters}, {"buffer", &content.buffers}, {"optimizer state", &content.optimizer_state}};
  for (const auto& [what, tensors] : groups)
    if (const auto found = first_non_finite(*tensors))
      throw RuntimeFailure(fmt::format("[checkpoint] {} {}: refusing to save a diverged state", what, describe(*found)));
}

void write_group(h5::File& file, std::string_view group, const NamedTensors& tensors) {
  for (const NamedTensor& t : tensors) file.write_tensor(fmt::format("{}/{}", group, t.name), t.tensor);
}

}  // namespace

void write_model_file(const fs::path& file, const Content& content) {
  h5::File out = h5::File::create(file);
  write_group(out, kParamsGroup, content.parameters);
  write_group(out, kBuffersGroup, content.buffers);
  write_group(out, kOptimizerGroup, content.optimizer_state);
  out.set_attribute("/", "format_version", kFormatVersion);
  out.set_attribute("/", "program_version", ATTNSCALE_VERSION);
  out.set_attribute("/", "step", content.step);
  out.set_attribute("/", "optimizer", content.optimizer);
  out.close();  // written and fsync'ed
}

void write_ranks_file(const fs::path& file, const SavedRanks& ranks) {
  h5::File out = h5::File::create(file);
  for (std::size_t r = 0; r < ranks.ranks.size(); ++r) {
    const RankState& state = ranks.ranks[r];
    const std::string group = rank_group(static_cast<int>(r));
    const std::int64_t cursor = state.data_cursor;
    out.write_tensor(group + "/data_cursor", Tensor::from(std::span(&cursor, 1), Shape{}));
    for (const GeneratorState& g : state.generators) {
      const std::uint64_t words[] = {g.seed, g.offset};
      out.write_u64(fmt::format("{}/generators/{}", group, g.name), words);
    }
  }
  out.set_attribute("/", "world_size", static_cast<std::int64_t>(ranks.ranks.size()));
  out.set_attribute("/", "dp", std::int64_t{ranks.grid.dp});
  out.set_attribute("/", "cp", std::int64_t{ranks.grid.cp});
  out.set_attribute("/", "ulysses", std::int64_t{ranks.grid.ulysses});
  out.close();  // written and fsync'ed
}

CheckpointWriter::CheckpointWriter(WriterOptions options, Communicator* comm)
    : options_(std::move(options)), group_(comm) {
  ATTNSCALE_CHECK(options_.keep >= 1, "checkpoint", "keep = {} must be at least 1", options_.keep);
  if (group_.rank() != 0) return;
  // Leftovers are never read, so failing to remove them only costs disk space: not worth a stop.
  const Failure failure = capture(
      [&] {
        for (const std::string& name : remove_unfinished(options_.dir))
          LOG_WARN("[checkpoint] removed {} (a save that did not finish)", (options_.dir / name).string());
      },
      0);
  if (failure) LOG_WARN("[checkpoint] could not remove unfinished saves: {}", failure.message);
}

fs::path CheckpointWriter::save(const Content& content) {
  ++saves_;
  const int rank = group_.rank();
  const std::string name = step_dir_name(content.step);
  const fs::path final_dir = options_.dir / name;
  const fs::path tmp_dir = fs::path(final_dir).concat(kTmpSuffix);
  const auto started = std::chrono::steady_clock::now();
  const auto give_up_if_failed = [&](const Failure& mine) {
    const Failure failure = group_.first_failure(mine);
    if (!failure) return;
    if (rank == 0) {
      std::error_code ignored;
      fs::remove_all(tmp_dir, ignored);
    }
    throw RuntimeFailure(fmt::format(
        "[checkpoint] saving step {} to {} failed on rank {}: {}; nothing was committed and earlier checkpoints are "
        "intact",
        content.step, final_dir.string(), failure.rank, failure.message));
  };

  std::vector<std::uint64_t> packed;
  give_up_if_failed(capture(
      [&] {
        ATTNSCALE_CHECK(content.grid.world_size() == group_.size(), "checkpoint",
                        "grid dp {} x cp {} does not match the {} saving ranks", content.grid.dp, content.grid.cp,
                        group_.size());
        if (rank == 0) {
          refuse_non_finite(content);
          fs::create_directories(options_.dir);
          fs::remove_all(tmp_dir);
          fs::create_directory(tmp_dir);
        }
        packed = pack(content.rank_state);
        options_.fault.at(SavePoint::started, rank, saves_);
      },
      rank));
  const std::vector<std::vector<std::uint64_t>> words = group_.all_gather(packed);

  Failure failure;
  if (rank == 0)
    failure = capture(
        [&] {
          SavedRanks ranks{content.grid, {}};
          for (std::size_t r = 0; r < words.size(); ++r)
            ranks.ranks.push_back(unpack(words[r], content.rank_state, static_cast<int>(r)));
          commit(content, ranks, tmp_dir, final_dir);
        },
        rank);
  give_up_if_failed(failure);

  if (rank == 0) {
    after_commit(content.step, final_dir);
    LOG_INFO("[checkpoint] step {} saved to {} in {:.2f} s", content.step, final_dir.string(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return final_dir;
}

void CheckpointWriter::commit(const Content& content, const SavedRanks& ranks, const fs::path& tmp_dir,
                              const fs::path& final_dir) const {
  const SaveFault& fault = options_.fault;
  write_model_file(tmp_dir / kModelFile, content);
  fault.at(SavePoint::model_written, 0, saves_);
  write_ranks_file(tmp_dir / kRanksFile, ranks);
  fault.at(SavePoint::ranks_written, 0, saves_);
  std::vector<std::string> files{std::string(kModelFile), std::string(kRanksFile)};
  std::error_code ec;
  if (!content.metrics_file.empty() && fs::exists(content.metrics_file, ec)) {
    write_file_durably(tmp_dir / kMetricsFile, read_text_file(content.metrics_file));
    files.emplace_back(kMetricsFile);
  }

  Manifest manifest;
  manifest.format_version = kFormatVersion;
  manifest.program_version = ATTNSCALE_VERSION;
  manifest.step = content.step;
  manifest.world_size = content.grid.world_size();
  manifest.grid = content.grid;
  manifest.optimizer = content.optimizer;
  manifest.created_utc = utc_now();
  manifest.config_yaml = content.config_yaml;
  for (const std::string& file : files) {
    const FileDigest digest = sha256_file(tmp_dir / file);
    manifest.files.push_back({file, digest.bytes, to_hex(digest.sha256)});
  }
  write_file_durably(tmp_dir / kManifestFile, manifest_to_json(manifest));
  fault.at(SavePoint::manifest_written, 0, saves_);
  fsync_directory(tmp_dir);

  // A checkpoint of the same step from an abandoned trajectory (the run resumed from an earlier
  // one) is replaced: moved aside under a *.tmp name first, since rename cannot replace a full
  // directory.
  if (fs::exists(final_dir, ec)) {
    const fs::path replaced = fs::path(final_dir).concat(".replaced").concat(kTmpSuffix);
    fs::remove_all(replaced, ec);
    rename_durably(final_dir, replaced);
    rename_durably(tmp_dir, final_dir);
    fs::remove_all(replaced, ec);
  } else {
    rename_durably(tmp_dir, final_dir);
  }
}

void CheckpointWriter::after_commit(std::int64_t step, const fs::path& final_dir) const {
  const SaveFault& fault = options_.fault;
  const std::string name = final_dir.filename().string();
  const Failure failure = capture(
      [&] {
        fault.at(SavePoint::committed, 0, saves_);
        write_latest(options_.dir, name);
        fault.at(SavePoint::latest_updated, 0, saves_);
        for (const fs::path& old : prune_checkpoints(options_.dir, options_.keep, step))
          LOG_DEBUG("[checkpoint] deleted {} (checkpoint.keep = {})", old.string(), options_.keep);
        fault.at(SavePoint::pruned, 0, saves_);
      },
      0);
  if (failure)
    LOG_WARN("[checkpoint] step {} is committed in {}, but updating '{}' or deleting old checkpoints failed: {}", step,
             final_dir.string(), kLatestFile, failure.message);
}

}  // namespace attnscale::checkpoint

// attnscale checkpoint inspect|verify DIR: what a checkpoint holds, and whether it is intact.
//
// DIR is one checkpoint (a step_N directory) or a checkpoint directory holding several. verify
// checks the manifest, the size and SHA-256 of every file and reads every dataset (Fletcher32); it
// exits 0 when everything is intact and 4 (checkpoint error) otherwise, naming the file and the
// reason. inspect prints the manifest, every tensor with its dtype, shape and a SHA-256 of its
// bytes, and every rank's data cursor and random streams.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.h"
#include "base/error.h"
#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/checkpoint/select.h"
#include "framework/io/sha256.h"

namespace attnscale::app {
namespace {

namespace fs = std::filesystem;
using namespace attnscale::checkpoint;

bool is_single_checkpoint(const fs::path& dir) {
  return fs::exists(dir / kManifestFile) || step_of_dir_name(dir.filename().string()).has_value();
}

std::vector<std::string> unfinished_saves(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec))
    if (entry.path().filename().string().ends_with(kTmpSuffix)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string tensor_checksum(const Tensor& tensor) {
  const Tensor data = tensor.contiguous();
  const auto* bytes = reinterpret_cast<const std::byte*>(data.storage()->data()) +
                      data.offset() * static_cast<int64_t>(dtype_size(data.dtype()));
  const Sha256Digest digest = sha256(std::span(bytes, static_cast<std::size_t>(data.numel()) * dtype_size(data.dtype())));
  return to_hex(std::span(digest).first(8));
}

void print_checkpoint(const CheckpointReader& reader, bool show_config) {
  const Manifest& m = reader.manifest();
  fmt::print("checkpoint {}\n", reader.dir().string());
  fmt::print("  step {}, format {} (attnscale {}), saved {}\n", m.step, m.format_version, m.program_version,
             m.created_utc);
  fmt::print("  world: {} rank(s), dp {} x cp {} (ulysses {}); optimizer {}\n", m.world_size, m.grid.dp, m.grid.cp,
             m.grid.ulysses, m.optimizer);
  fmt::print("  files:\n");
  for (const ManifestFile& f : m.files) fmt::print("    {:<14} {:>12} bytes  sha256 {}\n", f.name, f.bytes, f.sha256);
  fmt::print("  tensors: name, dtype, shape, checksum (the first 16 hex digits of the SHA-256 of its bytes)\n");
  for (const std::string_view group : {kParamsGroup, kBuffersGroup, kOptimizerGroup}) {
    const NamedTensors tensors = reader.read_group(group);
    int64_t elements = 0;
    for (const NamedTensor& t : tensors) elements += t.tensor.numel();
    fmt::print("  {} ({} tensors, {} elements):\n", group, tensors.size(), elements);
    for (const NamedTensor& t : tensors)
      fmt::print("    {:<56} {:<8} {:<14} {}\n", t.name, dtype_name(t.tensor.dtype()), shape_str(t.tensor.shape()),
                 tensor_checksum(t.tensor));
  }
  const SavedRanks ranks = reader.read_ranks();
  fmt::print("  ranks:\n");
  for (std::size_t r = 0; r < ranks.ranks.size(); ++r) {
    std::string streams;
    for (const GeneratorState& g : ranks.ranks[r].generators)
      streams += fmt::format(", {} (seed {}, offset {})", g.name, g.seed, g.offset);
    fmt::print("    rank {}: data cursor {}{}\n", r, ranks.ranks[r].data_cursor, streams);
  }
  if (show_config) fmt::print("  config:\n{}", m.config_yaml);
}

void inspect(const fs::path& dir, bool show_config) {
  if (is_single_checkpoint(dir)) {
    print_checkpoint(CheckpointReader(dir), show_config);
    return;
  }
  const auto entries = list_checkpoints(dir);
  if (entries.empty()) throw CheckpointError(fmt::format("[checkpoint] {}: holds no checkpoint", dir.string()));
  fmt::print("{}: {} checkpoint(s)", dir.string(), entries.size());
  if (const auto latest = read_latest(dir)) fmt::print(", latest = {}", latest->filename().string());
  fmt::print("\n");
  for (const auto& e : entries) fmt::print("  {}\n", e.dir.filename().string());
  for (const std::string& name : unfinished_saves(dir)) fmt::print("  {} (unfinished save: ignored)\n", name);
  std::vector<std::string> skipped;
  const auto newest = newest_valid_checkpoint(dir, skipped);
  for (const std::string& reason : skipped) fmt::print("  invalid: {}\n", reason);
  print_checkpoint(*newest, show_config);
}

// Prints "ok: ..." for an intact checkpoint; CheckpointError naming the file and reason otherwise.
void verify_one(const fs::path& dir) {
  const CheckpointReader reader(dir);
  reader.read_everything();
  std::uint64_t bytes = 0;
  for (const ManifestFile& f : reader.manifest().files) bytes += f.bytes;
  fmt::print("ok: {} (step {}, {} files, {} bytes)\n", dir.string(), reader.manifest().step,
             reader.manifest().files.size(), bytes);
}

void verify(const fs::path& dir) {
  if (is_single_checkpoint(dir)) return verify_one(dir);
  const auto entries = list_checkpoints(dir);
  if (entries.empty()) throw CheckpointError(fmt::format("[checkpoint] {}: holds no checkpoint", dir.string()));
  int failed = 0;
  for (const auto& e : entries) {
    try {
      verify_one(e.dir);
    } catch (const CheckpointError& error) {
      fmt::print("FAILED: {}\n", error.what());
      ++failed;
    }
  }
  for (const std::string& name : unfinished_saves(dir)) fmt::print("ignored: {} (unfinished save)\n", name);
  if (failed > 0)
    throw CheckpointError(fmt::format("[checkpoint] {}: {} of {} checkpoints failed verification", dir.string(), failed,
                                      entries.size()));
}

}  // namespace

void add_checkpoint_command(CLI::App& app) {
  auto* command = app.add_subcommand("checkpoint", "inspect or verify checkpoints (exit 4 when one is damaged)");
  command->require_subcommand(1);

  auto* inspect_command = command->add_subcommand("inspect", "print a checkpoint's manifest, tensors and rank state");
  auto inspect_dir = std::make_shared<std::string>();
  auto show_config = std::make_shared<bool>(false);
  inspect_command->add_option("dir", *inspect_dir, "a step_N checkpoint, or a checkpoint directory (its newest valid one)")
      ->required();
  inspect_command->add_flag("--config", *show_config, "also print the resolved config it was saved with");
  inspect_command->callback([inspect_dir, show_config] { inspect(*inspect_dir, *show_config); });

  auto* verify_command = command->add_subcommand(
      "verify", "check manifests, file sizes, SHA-256 and every dataset; exit 0 if intact, 4 if not");
  auto verify_dir = std::make_shared<std::string>();
  verify_command->add_option("dir", *verify_dir, "a step_N checkpoint, or a checkpoint directory (all of them)")
      ->required();
  verify_command->callback([verify_dir] { verify(*verify_dir); });
}

}  // namespace attnscale::app

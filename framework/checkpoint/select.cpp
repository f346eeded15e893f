#include "framework/checkpoint/select.h"

#include <fmt/format.h>

#include "base/error.h"
#include "framework/checkpoint/dir.h"
#include "framework/checkpoint/format.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

std::optional<CheckpointReader> try_open(const fs::path& dir, std::vector<std::string>& skipped) {
  try {
    return CheckpointReader(dir);
  } catch (const CheckpointError& e) {
    skipped.emplace_back(e.what());
    return std::nullopt;
  }
}

}  // namespace

std::optional<CheckpointReader> newest_valid_checkpoint(const fs::path& root, std::vector<std::string>& skipped) {
  std::vector<CheckpointEntry> entries = list_checkpoints(root);
  if (entries.empty()) return std::nullopt;
  const std::size_t skipped_before = skipped.size();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (auto reader = try_open(it->dir, skipped)) return reader;
  std::string reasons;
  for (std::size_t i = skipped_before; i < skipped.size(); ++i) reasons += "\n  " + skipped[i];
  throw CheckpointError(fmt::format("[checkpoint] {}: none of its {} checkpoints is valid:{}", root.string(),
                                    entries.size(), reasons));
}

std::optional<CheckpointReader> select_checkpoint(std::string_view resume, const fs::path& checkpoint_dir,
                                                  std::vector<std::string>& skipped) {
  if (resume == "none") return std::nullopt;
  if (resume == "auto") return newest_valid_checkpoint(checkpoint_dir, skipped);
  const fs::path path(resume);
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    throw CheckpointError(fmt::format("[checkpoint] train.resume={}: no such directory", path.string()));
  if (fs::exists(path / kManifestFile, ec) || step_of_dir_name(path.filename().string()))
    return CheckpointReader(path);
  if (auto reader = newest_valid_checkpoint(path, skipped)) return reader;
  throw CheckpointError(fmt::format(
      "[checkpoint] train.resume={}: holds no checkpoint (expected step_N directories, or a step_N directory itself)",
      path.string()));
}

}  // namespace attnscale::checkpoint

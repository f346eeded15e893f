#include "framework/checkpoint/dir.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/checkpoint/format.h"
#include "framework/checkpoint/reader.h"
#include "framework/io/durable_fs.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::vector<CheckpointEntry> list_checkpoints(const fs::path& root) {
  std::vector<CheckpointEntry> entries;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return entries;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec)) continue;
    if (const auto step = step_of_dir_name(entry.path().filename().string())) entries.push_back({*step, entry.path()});
  }
  if (ec) throw RuntimeFailure(fmt::format("[checkpoint] cannot list {}: {}", root.string(), ec.message()));
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return entries;
}

std::optional<fs::path> read_latest(const fs::path& root) {
  std::ifstream in(root / kLatestFile);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  const std::string name = trimmed(text.str());
  if (!step_of_dir_name(name)) return std::nullopt;
  return root / name;
}

void write_latest(const fs::path& root, std::string_view dir_name) {
  replace_file_durably(root / kLatestFile, fmt::format("{}\n", dir_name));
}

std::vector<std::string> remove_unfinished(const fs::path& root) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return removed;
  std::vector<fs::path> stale;
  for (const fs::directory_entry& entry : fs::directory_iterator(root, ec))
    if (entry.path().filename().string().ends_with(kTmpSuffix)) stale.push_back(entry.path());
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) throw RuntimeFailure(fmt::format("[checkpoint] cannot remove the unfinished {}: {}", path.string(), ec.message()));
    removed.push_back(path.filename().string());
  }
  if (!removed.empty()) fsync_directory(root);
  return removed;
}

std::vector<fs::path> set_aside_after(const fs::path& root, std::int64_t step) {
  std::vector<fs::path> moved;
  for (const CheckpointEntry& entry : list_checkpoints(root)) {
    if (entry.step <= step) continue;
    const fs::path aside_dir = root / "abandoned";
    fs::create_directories(aside_dir);
    fs::path target = aside_dir / entry.dir.filename();
    for (int copy = 1; fs::exists(target); ++copy)
      target = aside_dir / fmt::format("{}.{}", entry.dir.filename().string(), copy);
    rename_durably(entry.dir, target);
    moved.push_back(target);
  }
  return moved;
}

std::vector<fs::path> prune_checkpoints(const fs::path& root, std::int64_t keep, std::int64_t newest_step) {
  std::vector<CheckpointEntry> entries = list_checkpoints(root);
  std::erase_if(entries, [&](const CheckpointEntry& e) { return e.step > newest_step; });
  // Newest first: keep entries until `keep` of them open as valid checkpoints (manifest and file
  // sizes), so that an invalid newer one never costs the newest valid one.
  std::int64_t valid = 0;
  std::size_t kept = 0;
  for (auto it = entries.rbegin(); it != entries.rend() && valid < std::max<std::int64_t>(keep, 1); ++it, ++kept) {
    try {
      CheckpointReader(it->dir, Verify::sizes);
      ++valid;
    } catch (const CheckpointError&) {
    }
  }
  std::vector<fs::path> deleted;
  for (std::size_t i = 0; i + kept < entries.size(); ++i) {
    const fs::path& dir = entries[i].dir;
    const fs::path doomed = fs::path(dir).concat(".deleted").concat(kTmpSuffix);
    std::error_code ec;
    fs::remove_all(doomed, ec);
    rename_durably(dir, doomed);
    fs::remove_all(doomed, ec);
    if (ec) throw RuntimeFailure(fmt::format("[checkpoint] cannot remove {}: {}", doomed.string(), ec.message()));
    deleted.push_back(dir);
  }
  return deleted;
}

}  // namespace attnscale::checkpoint

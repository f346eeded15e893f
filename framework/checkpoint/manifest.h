// manifest.json: what a committed checkpoint is and how to check it. Written last (before the
// rename that commits the directory), so a directory without one is an unfinished save. It carries
// its own SHA-256 ("manifest_sha256", over the manifest without that field), so a damaged manifest
// is refused instead of trusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "distributed/comm/process_grid.h"

namespace attnscale::checkpoint {

struct ManifestFile {
  std::string name;  // relative to the checkpoint directory
  std::uint64_t bytes = 0;
  std::string sha256;  // lower-case hex
};

struct Manifest {
  std::int64_t format_version = 0;
  std::string program_version;
  std::int64_t step = 0;
  int world_size = 1;
  GridShape grid;
  std::string optimizer;
  std::string created_utc;  // ISO 8601
  std::string config_yaml;
  std::vector<ManifestFile> files;

  const ManifestFile* find(std::string_view name) const;
};

std::string manifest_to_json(const Manifest& manifest);
// Parses and checks the text of `file`; CheckpointError("[checkpoint] FILE: corrupt manifest: ...")
// for bad JSON, a checksum mismatch, a missing field, or a format this program does not read.
Manifest parse_manifest(std::string_view text, const std::filesystem::path& file);

// Checks that every file the manifest lists exists in `dir` with its size and SHA-256 (sizes only
// when hash_contents is false). CheckpointError naming the file: missing, truncated (shorter than
// listed), grown, or corrupt (hash mismatch).
void verify_files(const Manifest& manifest, const std::filesystem::path& dir, bool hash_contents = true);

}  // namespace attnscale::checkpoint

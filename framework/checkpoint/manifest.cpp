#include "framework/checkpoint/manifest.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/checkpoint/format.h"
#include "framework/io/sha256.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr std::string_view kSelfHashField = "manifest_sha256";

std::string hash_of(const json& body) {
  const std::string text = body.dump(2);
  return to_hex(sha256(std::as_bytes(std::span(text.data(), text.size()))));
}

json body_of(const Manifest& m) {
  json files = json::array();
  for (const ManifestFile& f : m.files) files.push_back({{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return {{"format", kFormatName},
          {"format_version", m.format_version},
          {"program_version", m.program_version},
          {"step", m.step},
          {"world", {{"size", m.world_size}, {"dp", m.grid.dp}, {"cp", m.grid.cp}, {"ulysses", m.grid.ulysses}}},
          {"optimizer", m.optimizer},
          {"created_utc", m.created_utc},
          {"files", files},
          {"config", m.config_yaml}};
}

}  // namespace

const ManifestFile* Manifest::find(std::string_view name) const {
  for (const ManifestFile& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

std::string manifest_to_json(const Manifest& manifest) {
  json body = body_of(manifest);
  const std::string self_hash = hash_of(body);
  body[std::string(kSelfHashField)] = self_hash;
  return body.dump(2) + "\n";
}

Manifest parse_manifest(std::string_view text, const fs::path& file) {
  const auto corrupt = [&](const std::string& why) {
    return CheckpointError(fmt::format("[checkpoint] {}: corrupt manifest: {}", file.string(), why));
  };
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw corrupt("not valid JSON (damaged or truncated)");
  if (!body.is_object()) throw corrupt("not a JSON object");
  if (!body.contains(kSelfHashField) || !body[std::string(kSelfHashField)].is_string())
    throw corrupt(fmt::format("no '{}' field", kSelfHashField));
  const std::string recorded = body[std::string(kSelfHashField)].get<std::string>();
  body.erase(std::string(kSelfHashField));
  if (hash_of(body) != recorded) throw corrupt("its checksum does not match its content (damaged or edited)");

  Manifest m;
  try {
    if (body.at("format").get<std::string>() != kFormatName)
      throw corrupt(fmt::format("format is '{}', not '{}'", body.at("format").get<std::string>(), kFormatName));
    m.format_version = body.at("format_version").get<std::int64_t>();
    m.program_version = body.at("program_version").get<std::string>();
    if (m.format_version > kFormatVersion || m.format_version < 1)
      throw CheckpointError(fmt::format(
          "[checkpoint] {}: format version {} (written by attnscale {}); this program reads version {}", file.string(),
          m.format_version, m.program_version, kFormatVersion));
    m.step = body.at("step").get<std::int64_t>();
    const json& world = body.at("world");
    m.world_size = world.at("size").get<int>();
    m.grid = GridShape{world.at("dp").get<int>(), world.at("cp").get<int>(), world.at("ulysses").get<int>()};
    m.optimizer = body.at("optimizer").get<std::string>();
    m.created_utc = body.at("created_utc").get<std::string>();
    m.config_yaml = body.at("config").get<std::string>();
    for (const json& f : body.at("files"))
      m.files.push_back({f.at("name").get<std::string>(), f.at("bytes").get<std::uint64_t>(),
                         f.at("sha256").get<std::string>()});
  } catch (const json::exception& e) {
    throw corrupt(fmt::format("missing or mistyped field ({})", e.what()));
  }
  if (m.step < 0) throw corrupt(fmt::format("negative step {}", m.step));
  if (m.world_size < 1 || m.grid.dp < 1 || m.grid.cp < 1 || m.grid.ulysses < 1 ||
      m.grid.world_size() != m.world_size)
    throw corrupt(fmt::format("inconsistent world layout (size {}, dp {}, cp {}, ulysses {})", m.world_size, m.grid.dp,
                              m.grid.cp, m.grid.ulysses));
  for (const ManifestFile& f : m.files) {
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." || f.name == ".." ||
        f.name == kManifestFile)
      throw corrupt(fmt::format("bad file name '{}'", f.name));
    if (!sha256_from_hex(f.sha256)) throw corrupt(fmt::format("bad SHA-256 '{}' for {}", f.sha256, f.name));
  }
  return m;
}

void verify_files(const Manifest& manifest, const fs::path& dir, bool hash_contents) {
  for (const ManifestFile& f : manifest.files) {
    const fs::path file = dir / f.name;
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (ec || !fs::is_regular_file(status))
      throw CheckpointError(fmt::format("[checkpoint] {}: missing file (listed in {})", file.string(), kManifestFile));
    const std::uint64_t size = fs::file_size(file, ec);
    if (ec) throw CheckpointError(fmt::format("[checkpoint] {}: cannot read its size: {}", file.string(), ec.message()));
    if (size < f.bytes)
      throw CheckpointError(fmt::format("[checkpoint] {}: truncated ({} bytes, {} lists {})", file.string(), size,
                                        kManifestFile, f.bytes));
    if (size > f.bytes)
      throw CheckpointError(fmt::format("[checkpoint] {}: has {} bytes, {} lists {} (modified after the save)",
                                        file.string(), size, kManifestFile, f.bytes));
    if (!hash_contents) continue;
    const std::string actual = to_hex(sha256_file(file).sha256);
    if (actual != f.sha256)
      throw CheckpointError(fmt::format("[checkpoint] {}: corrupt (SHA-256 {} but {} lists {})", file.string(),
                                        actual, kManifestFile, f.sha256));
  }
}

}  // namespace attnscale::checkpoint

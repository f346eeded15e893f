#include "framework/checkpoint/config.h"

#include <map>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "base/error.h"

namespace attnscale::checkpoint {
namespace {

namespace fs = std::filesystem;

// Entries ending in '.' are whole sections. The eval_split keys choose the held-out split evaluation
// reads (validation for selection, test once), and eval.* how `attnscale eval` decodes, not anything
// training saved.
constexpr std::string_view kFreeKeys[] = {"run.name",         "run.dir",           "train.resume",  "train.log_every",
                                          "train.eval_every", "train.eval_batches", "train.threads", "train.skip_nonfinite_steps", "parallel.",
                                          "checkpoint.",      "logging.",          "data.eval_split", "han.eval_split",
                                          "memn2n.eval_split", "memn2n.show_attention", "eval."};
// run.device and run.allow_tf32: the saved state means the same on either device and GEMM precision
// (checkpoints are device-neutral HDF5), but the resumed run is then not bit-for-bit the one that
// would have continued, so the change is said. model.dtype likewise: checkpoints hold float32
// (master) weights in either precision.
constexpr std::string_view kWarnedKeys[] = {"train.steps", "optim.", "run.device", "run.allow_tf32", "model.dtype"};
constexpr std::string_view kStrictKeys[] = {"optim.name"};

bool listed(std::string_view key, std::span<const std::string_view> list) {
  for (const std::string_view entry : list)
    if (entry.ends_with('.') ? key.starts_with(entry) : key == entry) return true;
  return false;
}

// "section.key" -> the value as YAML text.
std::map<std::string, std::string> flatten(std::string_view yaml, std::string_view what, const fs::path& source) {
  std::map<std::string, std::string> values;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) throw YAML::Exception(YAML::Mark::null_mark(), "not a mapping");
    for (const auto& section : root) {
      if (!section.second.IsMap()) continue;
      for (const auto& key : section.second)
        values[section.first.as<std::string>() + "." + key.first.as<std::string>()] =
            key.second.IsScalar() ? key.second.Scalar() : YAML::Dump(key.second);
    }
  } catch (const YAML::Exception& e) {
    throw CheckpointError(fmt::format("[checkpoint] {}: the {} config is not readable YAML ({})", source.string(), what, e.what()));
  }
  return values;
}

}  // namespace

ConfigComparison compare_configs(std::string_view saved_yaml, const Config& current, const fs::path& source) {
  const auto saved = flatten(saved_yaml, "saved", source);
  const auto now = flatten(to_yaml(current), "current", source);
  std::map<std::string, std::pair<std::string, std::string>> keys;
  for (const auto& [key, value] : saved) keys[key].first = value;
  for (const auto& [key, value] : now) keys[key].second = value;
  ConfigComparison comparison;
  constexpr std::string_view absent = "(absent)";
  for (const auto& [key, values] : keys) {
    const bool in_saved = saved.contains(key), in_now = now.contains(key);
    if (in_saved && in_now && values.first == values.second) continue;
    if (listed(key, kFreeKeys)) continue;
    ConfigChange change{key, in_saved ? values.first : std::string(absent), in_now ? values.second : std::string(absent)};
    if (listed(key, kWarnedKeys) && !listed(key, kStrictKeys)) comparison.warned.push_back(std::move(change));
    else comparison.refused.push_back(std::move(change));
  }
  return comparison;
}

std::vector<std::string> check_resumable(std::string_view saved_yaml, const Config& current, const fs::path& source) {
  const ConfigComparison comparison = compare_configs(saved_yaml, current, source);
  const auto describe = [](const ConfigChange& c) { return fmt::format("{}: {} in the checkpoint, {} now", c.key, c.saved, c.current); };
  if (!comparison.refused.empty()) {
    std::string list;
    for (const ConfigChange& c : comparison.refused) list += fmt::format("\n  {}", describe(c));
    throw CheckpointError(fmt::format(
        "[checkpoint] {}: saved with a different config; these keys must match to resume (the saved state would mean "
        "something else):{}",
        source.string(), list));
  }
  std::vector<std::string> warnings;
  for (const ConfigChange& c : comparison.warned)
    warnings.push_back(fmt::format("{} (the run continues with the current value)", describe(c)));
  return warnings;
}

}  // namespace attnscale::checkpoint

// The key tables of config.h as data: one KeyInfo per key, in file order. Everything that walks the
// keys (loader, overrides, to_yaml, `config defaults`, the README generator) goes through here.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "framework/config/config.h"

namespace attnscale::config {

enum class ValueKind { integer, real, boolean, string, choice };

// One value as written by the user, before it is given a type.
struct ScalarText {
  std::string text;
  bool quoted = false;  // written as a YAML string ("128"), not a plain scalar (128)
  bool null = false;    // `key:` or `key: ~`
  std::string where;    // "file:line:column" or "command line 'a.b=c'"
};

struct KeyInfo {
  std::string_view section;
  std::string_view name;
  std::string dotted;  // "optim.lr"
  ValueKind kind;
  Range range;                                // numeric keys
  std::span<const std::string_view> choices;  // choice keys
  std::string_view description;
  std::string (*text_of)(const Config&);      // the value as YAML text
  void (*assign)(Config&, const ScalarText&, const KeyInfo&);  // parses, checks range, stores
};

struct SectionInfo {
  std::string_view name;
  std::string_view description;
  std::span<const KeyInfo> keys;
};

std::span<const SectionInfo> config_sections();
std::span<const KeyInfo> config_keys();
const SectionInfo* find_section(std::string_view name);
const KeyInfo* find_key(std::string_view dotted);

std::string_view kind_name(ValueKind kind);  // "int", "float", "bool", "string", "enum"

}  // namespace attnscale::config

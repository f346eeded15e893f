#include "framework/config/schema.h"

#include <array>
#include <type_traits>
#include <vector>

#include "framework/config/value.h"

namespace attnscale::config {
namespace {

template <class T>
constexpr ValueKind kind_of() {
  if constexpr (std::is_same_v<T, std::int64_t>) return ValueKind::integer;
  else if constexpr (std::is_same_v<T, double>) return ValueKind::real;
  else if constexpr (std::is_same_v<T, bool>) return ValueKind::boolean;
  else if constexpr (std::is_same_v<T, std::string>) return ValueKind::string;
  else if constexpr (std::is_same_v<T, MechanismName>) return ValueKind::choice;
  else {
    static_assert(ConfigEnum<T>, "config keys are int64, double, bool, string, MechanismName or ATTNSCALE_CONFIG_ENUM");
    return ValueKind::choice;
  }
}

template <class T>
std::span<const std::string_view> choices_of() {
  if constexpr (ConfigEnum<T>) return enum_names<T>();
  else if constexpr (std::is_same_v<T, MechanismName>) return mechanism_names();
  else return {};
}

template <auto SectionMember, auto KeyMember>
std::string text_of(const Config& cfg) {
  const auto& value = cfg.*SectionMember.*KeyMember;
  using T = std::remove_cvref_t<decltype(value)>;
  if constexpr (std::is_same_v<T, std::int64_t>) return format_integer(value);
  else if constexpr (std::is_same_v<T, double>) return format_real(value);
  else if constexpr (std::is_same_v<T, bool>) return format_bool(value);
  else if constexpr (std::is_same_v<T, std::string>) return format_string(value);
  else return std::string(to_string(value));  // an enum or the mechanism's name
}

template <auto SectionMember, auto KeyMember>
void assign(Config& cfg, const ScalarText& scalar, const KeyInfo& key) {
  auto& value = cfg.*SectionMember.*KeyMember;
  using T = std::remove_cvref_t<decltype(value)>;
  if constexpr (std::is_same_v<T, std::int64_t>) value = parse_integer(scalar, key);
  else if constexpr (std::is_same_v<T, double>) value = parse_real(scalar, key);
  else if constexpr (std::is_same_v<T, bool>) value = parse_bool(scalar, key);
  else if constexpr (std::is_same_v<T, std::string>) value = parse_string(scalar, key);
  else if constexpr (std::is_same_v<T, MechanismName>) value = MechanismName(key.choices[parse_choice(scalar, key)]);
  else value = static_cast<T>(parse_choice(scalar, key));
}

template <auto SectionMember, auto KeyMember>
KeyInfo make_key(std::string_view section, std::string_view name, Range range, std::string_view description) {
  using T = std::remove_cvref_t<decltype(std::declval<Config&>().*SectionMember.*KeyMember)>;
  return KeyInfo{section,
                 name,
                 std::string(section) + "." + std::string(name),
                 kind_of<T>(),
                 range,
                 choices_of<T>(),
                 description,
                 &text_of<SectionMember, KeyMember>,
                 &assign<SectionMember, KeyMember>};
}

// Expanded inside a lambda that defines Section (the struct), section_member and section_name.
#define ATTNSCALE_KEY_INFO(type, name_, default_value, range_, description_) \
  keys.push_back(make_key<section_member, &Section::name_>(section_name, #name_, range_, description_));

#define ATTNSCALE_SECTION_KEY_INFOS(Struct, section_, KEYS, description_) \
  [this] {                                                               \
    using Section = Struct;                                              \
    constexpr auto section_member = &Config::section_;                   \
    constexpr std::string_view section_name = #section_;                 \
    KEYS(ATTNSCALE_KEY_INFO)                                             \
  }();

#define ATTNSCALE_SECTION_INFO(Struct, section_, KEYS, description_) \
  sections.push_back(SectionInfo{#section_, description_, {}});

struct Schema {
  std::vector<KeyInfo> keys;
  std::vector<SectionInfo> sections;

  Schema() {
    ATTNSCALE_CONFIG_SECTIONS(ATTNSCALE_SECTION_KEY_INFOS)
    ATTNSCALE_CONFIG_SECTIONS(ATTNSCALE_SECTION_INFO)
    // Each section's keys are a contiguous run of `keys`, in table order.
    std::size_t begin = 0;
    for (SectionInfo& section : sections) {
      std::size_t end = begin;
      while (end < keys.size() && keys[end].section == section.name) ++end;
      section.keys = std::span<const KeyInfo>(keys).subspan(begin, end - begin);
      begin = end;
    }
  }
};

const Schema& schema() {
  static const Schema instance;
  return instance;
}

}  // namespace

std::span<const SectionInfo> config_sections() { return schema().sections; }
std::span<const KeyInfo> config_keys() { return schema().keys; }

const SectionInfo* find_section(std::string_view name) {
  for (const SectionInfo& section : config_sections())
    if (section.name == name) return &section;
  return nullptr;
}

const KeyInfo* find_key(std::string_view dotted) {
  for (const KeyInfo& key : config_keys())
    if (key.dotted == dotted) return &key;
  return nullptr;
}

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::integer: return "int";
    case ValueKind::real: return "float";
    case ValueKind::boolean: return "bool";
    case ValueKind::string: return "string";
    case ValueKind::choice: return "enum";
  }
  return "?";
}

}  // namespace attnscale::config

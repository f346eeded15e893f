// Config enums whose spelling in YAML is the C++ enumerator's name, declared once:
//   ATTNSCALE_CONFIG_ENUM(Mask, none, causal, window, block_sparse);
// defines `enum class Mask` and its names, so a value added to the list is at once accepted by the
// loader, printed by `config show` and listed in configs/README.md. A trailing underscore is dropped
// from the YAML name, for values that are C++ keywords (`auto_` is written `auto`). Enumerators take
// no explicit values: the names are looked up by position.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace attnscale::config {

// Specialised by ATTNSCALE_CONFIG_ENUM: `values` holds the YAML names in enumerator order.
template <class E>
struct EnumNames;

template <class E>
concept ConfigEnum = requires { EnumNames<E>::values; };

namespace detail {

constexpr bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

constexpr std::size_t count_names(std::string_view list) {
  std::size_t commas = 0;
  for (char c : list) commas += c == ',';
  return commas + 1;
}

// Splits the stringised enumerator list "a, b, auto_" into {"a", "b", "auto"}.
template <std::size_t N>
constexpr std::array<std::string_view, N> split_names(std::string_view list) {
  std::array<std::string_view, N> names{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < N; ++i) {
    while (pos < list.size() && !is_name_char(list[pos])) ++pos;
    std::size_t end = pos;
    while (end < list.size() && is_name_char(list[end])) ++end;
    std::string_view name = list.substr(pos, end - pos);
    if (!name.empty() && name.back() == '_') name.remove_suffix(1);
    names[i] = name;
    pos = end;
  }
  return names;
}

}  // namespace detail

template <ConfigEnum E>
constexpr std::span<const std::string_view> enum_names() {
  return EnumNames<E>::values;
}

template <ConfigEnum E>
constexpr std::string_view to_string(E value) {
  return EnumNames<E>::values[static_cast<std::size_t>(value)];
}

template <ConfigEnum E>
constexpr std::optional<E> enum_from_string(std::string_view name) {
  const auto& names = EnumNames<E>::values;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace attnscale::config

// Must be used inside namespace attnscale::config.
#define ATTNSCALE_CONFIG_ENUM(Name, ...)                                                    \
  enum class Name { __VA_ARGS__ };                                                          \
  template <>                                                                               \
  struct EnumNames<Name> {                                                                  \
    static constexpr auto values =                                                          \
        detail::split_names<detail::count_names(#__VA_ARGS__)>(#__VA_ARGS__);              \
  }

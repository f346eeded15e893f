// "Did you mean ...?" for unknown keys and enum values.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace attnscale::config {

// Edit distance counting insertions, deletions, substitutions and swaps of adjacent letters.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to word when it is close enough to be a likely typo, else "".
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace attnscale::config

// Turning user-written scalars into typed values and typed values back into YAML text. The rules
// (strict): integers accept 12, -3 and exact values like 1e6, reals reject inf and nan, booleans are
// true or false only (not yes/no), a quoted "12" is a string and not a number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/config/schema.h"

namespace attnscale::config {

// Throws ConfigError("[config] <dotted key>: <problem> (<where>)").
[[noreturn]] void fail(std::string_view dotted_key, std::string_view problem, std::string_view where);

std::int64_t parse_integer(const ScalarText& scalar, const KeyInfo& key);
double parse_real(const ScalarText& scalar, const KeyInfo& key);
bool parse_bool(const ScalarText& scalar, const KeyInfo& key);
std::string parse_string(const ScalarText& scalar, const KeyInfo& key);
std::size_t parse_choice(const ScalarText& scalar, const KeyInfo& key);  // index into key.choices

std::string format_integer(std::int64_t value);
std::string format_real(double value);  // shortest text that reads back to the same double
std::string format_bool(bool value);
std::string format_string(std::string_view value);  // double-quoted, escaped

}  // namespace attnscale::config

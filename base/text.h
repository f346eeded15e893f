// Text from files in error messages and in data: UTF-8 validation, and excerpts of untrusted bytes
// that are short and printable, so a binary file fed by mistake gives one readable line, not 20 KB
// of garbage on the terminal.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace attnscale {

// The offset of the first byte of `text` that does not start a valid UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or nullopt when all of it is valid.
std::optional<std::size_t> invalid_utf8_offset(std::string_view text);

// "invalid UTF-8 (byte 0xff at offset 12 of <where>)" when `text` is not valid UTF-8, else nullopt.
std::optional<std::string> utf8_problem(std::string_view text, std::string_view where);

// `text` for an error message: at most `max_bytes` bytes of it, with control characters other than
// tab, backslashes and bytes that are not valid UTF-8 written as escapes (\n, \r, \\, \xNN), and
// "... (N bytes)" when it was cut.
std::string excerpt(std::string_view text, std::size_t max_bytes = 80);

}  // namespace attnscale

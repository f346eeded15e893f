#include "base/text.h"

#include <fmt/format.h>

namespace attnscale {
namespace {

// The length of the valid UTF-8 sequence that starts text[at], or 0 when none does.
std::size_t sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead == 0xE0) length = 3, low = 0xA0;   // no overlong 3-byte forms
  else if (lead == 0xED) length = 3, high = 0x9F;  // no surrogates
  else if (lead >= 0xE1 && lead <= 0xEF) length = 3;
  else if (lead == 0xF0) length = 4, low = 0x90;   // no overlong 4-byte forms
  else if (lead == 0xF4) length = 4, high = 0x8F;  // nothing above U+10FFFF
  else if (lead >= 0xF1 && lead <= 0xF3) length = 4;
  else return 0;
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  return length;
}

}  // namespace

std::optional<std::size_t> invalid_utf8_offset(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = sequence_length(text, at);
    if (length == 0) return at;
    at += length;
  }
  return std::nullopt;
}

std::optional<std::string> utf8_problem(std::string_view text, std::string_view where) {
  const auto offset = invalid_utf8_offset(text);
  if (!offset) return std::nullopt;
  return fmt::format("invalid UTF-8 (byte 0x{:02x} at offset {} of {})", static_cast<unsigned char>(text[*offset]),
                     *offset, where);
}

std::string excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size() && out.size() < max_bytes) {
    const char c = text[at];
    const std::size_t length = sequence_length(text, at);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (length == 0 || (length == 1 && c != '\t' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)))
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else {
      out.append(text.substr(at, length));
      at += length;
      continue;
    }
    ++at;
  }
  if (at < text.size()) out += fmt::format("... ({} bytes)", text.size());
  return out;
}

}  // namespace attnscale

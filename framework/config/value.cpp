#include "framework/config/value.h"

#include <charconv>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "base/error.h"
#include "base/text.h"
#include "framework/config/suggest.h"

namespace attnscale::config {
namespace {

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// from_chars does not take a leading '+', which YAML allows.
std::string_view without_plus(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  return text;
}

bool read_double(std::string_view text, double& value) {
  text = without_plus(trimmed(text));
  if (text.empty()) return false;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

void require_value(const ScalarText& scalar, const KeyInfo& key, std::string_view expected) {
  if (scalar.null) fail(key.dotted, fmt::format("missing value (expected {})", expected), scalar.where);
  if (scalar.quoted)
    fail(key.dotted, fmt::format("expected {}, got the string {}", expected, format_string(scalar.text)),
         scalar.where);
}

void check_range(double value, std::string_view text, const KeyInfo& key, const ScalarText& scalar) {
  if (!key.range.contains(value))
    fail(key.dotted,
         fmt::format("{} is out of range (must be {})", text,
                     describe(key.range, key.kind == ValueKind::integer)),
         scalar.where);
}

}  // namespace

void fail(std::string_view dotted_key, std::string_view problem, std::string_view where) {
  if (where.empty()) throw ConfigError(fmt::format("[config] {}: {}", dotted_key, problem));
  throw ConfigError(fmt::format("[config] {}: {} ({})", dotted_key, problem, where));
}

std::int64_t parse_integer(const ScalarText& scalar, const KeyInfo& key) {
  require_value(scalar, key, "an integer");
  const std::string_view text = without_plus(trimmed(scalar.text));
  std::int64_t value = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || result.ec != std::errc() || result.ptr != text.data() + text.size()) {
    // Exact integers in float notation (steps: 1e6) are fine; 2.5 is not.
    double real = 0;
    constexpr double int64_limit = 9223372036854775808.0;  // 2^63
    if (!read_double(text, real) || !std::isfinite(real) || std::trunc(real) != real ||
        std::fabs(real) >= int64_limit)
      fail(key.dotted, fmt::format("expected an integer, got '{}'", excerpt(scalar.text)), scalar.where);
    value = static_cast<std::int64_t>(real);
  }
  check_range(static_cast<double>(value), fmt::format("{}", value), key, scalar);
  return value;
}

double parse_real(const ScalarText& scalar, const KeyInfo& key) {
  require_value(scalar, key, "a number");
  double value = 0;
  if (!read_double(scalar.text, value))
    fail(key.dotted, fmt::format("expected a number, got '{}'", excerpt(scalar.text)), scalar.where);
  if (!std::isfinite(value))
    fail(key.dotted, fmt::format("expected a finite number, got '{}'", scalar.text), scalar.where);
  check_range(value, trimmed(scalar.text), key, scalar);
  return value;
}

bool parse_bool(const ScalarText& scalar, const KeyInfo& key) {
  require_value(scalar, key, "true or false");
  const std::string_view text = trimmed(scalar.text);
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  fail(key.dotted, fmt::format("expected true or false, got '{}'", excerpt(scalar.text)), scalar.where);
}

std::string parse_string(const ScalarText& scalar, const KeyInfo& key) {
  return scalar.null ? std::string() : scalar.text;
}

std::size_t parse_choice(const ScalarText& scalar, const KeyInfo& key) {
  const std::string choices = fmt::format("{}", fmt::join(key.choices, ", "));
  if (scalar.null) fail(key.dotted, fmt::format("missing value (one of: {})", choices), scalar.where);
  const std::string_view text = trimmed(scalar.text);
  for (std::size_t i = 0; i < key.choices.size(); ++i)
    if (key.choices[i] == text) return i;
  std::string problem = fmt::format("'{}' is not one of: {}", excerpt(scalar.text), choices);
  if (const auto guess = closest_match(text, key.choices); !guess.empty())
    problem += fmt::format("; did you mean '{}'?", guess);
  fail(key.dotted, problem, scalar.where);
}

std::string format_integer(std::int64_t value) { return fmt::format("{}", value); }

std::string format_real(double value) {
  // fmt's shortest round-trip form; keep a '.' or exponent so the text still reads as a float.
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string format_bool(bool value) { return value ? "true" : "false"; }

std::string format_string(std::string_view value) {
  // YAML double-quoted style; JSON's escapes are a subset of YAML's, so this is what JSON does.
  std::string out = "\"";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (byte < 0x20 || byte == 0x7f)
          out += fmt::format("\\x{:02x}", byte);
        else
          out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace attnscale::config

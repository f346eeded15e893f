#include "framework/eval/bleu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::eval {
namespace {

// Length in bytes of the whitespace character (Python's str.isspace) starting at s[i], else 0.
size_t whitespace_at(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = byte(0);
  if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
  if (c == 0xc2 && (byte(1) == 0x85 || byte(1) == 0xa0)) return 2;  // U+0085, U+00A0
  if (c == 0xe1 && byte(1) == 0x9a && byte(2) == 0x80) return 3;    // U+1680
  if (c == 0xe2 && byte(1) == 0x80) {
    const unsigned d = byte(2);
    if ((d >= 0x80 && d <= 0x8a) || d == 0xa8 || d == 0xa9 || d == 0xaf) return 3;  // U+2000-200A, 2028, 2029, 202F
  }
  if (c == 0xe2 && byte(1) == 0x81 && byte(2) == 0x9f) return 3;  // U+205F
  if (c == 0xe3 && byte(1) == 0x80 && byte(2) == 0x80) return 3;  // U+3000
  return 0;
}

std::string_view rstrip(std::string_view s) {
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t space = whitespace_at(s, i);
    i += space ? space : 1;
    if (!space) end = i;
  }
  return s.substr(0, end);
}

// Python's str.replace: every non-overlapping occurrence, left to right.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t start = 0;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, start)) {
    out.append(s, start, at - start).append(to);
    start = at + from.size();
  }
  s = out.append(s, start);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_period_or_comma(char c) { return c == '.' || c == ','; }

// The first rule of sacreBLEU's TokenizerRegexp: [\{-\~\[-\` -\&\(-\+\:-\@\/] gets a space on each side.
bool is_split_punctuation(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
         (c >= ':' && c <= '@') || c == '/';
}

// re.sub with a two-character pattern (first, second): matches scanned left to right, each resuming
// after the previous one. Every pattern here has an ASCII character on one side, and UTF-8 never
// hides an ASCII byte inside a multi-byte character, so scanning bytes finds the same matches as
// Python scanning characters.
template <class First, class Second, class Replace>
std::string substitute_pairs(const std::string& s, First first, Second second, Replace replace) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      replace(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

using NgramCounts = std::unordered_map<std::string, int64_t>;

// Every n-gram of order 1..4 (tokens joined by spaces: tokens hold none, so the key is unique).
NgramCounts count_ngrams(const std::vector<std::string>& tokens) {
  NgramCounts counts;
  for (size_t n = 1; n <= kBleuOrder; ++n)
    for (size_t i = 0; i + n <= tokens.size(); ++i) {
      std::string key = tokens[i];
      for (size_t k = 1; k < n; ++k) key.append(" ").append(tokens[i + k]);
      ++counts[key];
    }
  return counts;
}

size_t order_of(const std::string& ngram) { return static_cast<size_t>(std::count(ngram.begin(), ngram.end(), ' ')) + 1; }

// sacreBLEU's my_log: log, with log(0) floored to -9999999999.
double floored_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

std::vector<std::string> tokenize_13a(std::string_view raw) {
  std::string line(rstrip(raw));
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  std::string spaced = " ";
  for (const char c : line) {
    if (is_split_punctuation(c)) spaced.append(" ").append(1, c).append(" ");
    else spaced += c;
  }
  spaced += ' ';
  // period and comma unless preceded by a digit: ([^0-9])([\.,]) -> "\1 \2 "
  spaced = substitute_pairs(spaced, [](char c) { return !is_digit(c); }, is_period_or_comma,
                            [](std::string& out, char a, char b) { out.append(1, a).append(" ").append(1, b).append(" "); });
  // period and comma unless followed by a digit: ([\.,])([^0-9]) -> " \1 \2"
  spaced = substitute_pairs(spaced, is_period_or_comma, [](char c) { return !is_digit(c); },
                            [](std::string& out, char a, char b) { out.append(" ").append(1, a).append(" ").append(1, b); });
  // dash preceded by a digit: ([0-9])(-) -> "\1 \2 "
  spaced = substitute_pairs(spaced, is_digit, [](char c) { return c == '-'; },
                            [](std::string& out, char a, char b) { out.append(1, a).append(" ").append(1, b).append(" "); });
  std::vector<std::string> tokens;
  std::string token;
  for (size_t i = 0; i < spaced.size();) {
    const size_t space = whitespace_at(spaced, i);
    if (space) {
      if (!token.empty()) tokens.push_back(std::move(token)), token.clear();
      i += space;
    } else {
      token += spaced[i++];
    }
  }
  if (!token.empty()) tokens.push_back(std::move(token));
  return tokens;
}

BleuStats& BleuStats::operator+=(const BleuStats& other) {
  hypothesis_length += other.hypothesis_length;
  reference_length += other.reference_length;
  for (size_t n = 0; n < kBleuOrder; ++n) matches[n] += other.matches[n], totals[n] += other.totals[n];
  return *this;
}

BleuStats bleu_stats(std::string_view hypothesis, std::span<const std::string> references) {
  ATTNSCALE_CHECK(!references.empty(), "bleu", "a hypothesis needs at least one reference");
  // Each n-gram's count clipped to the most any one reference holds.
  NgramCounts reference_counts;
  std::vector<int64_t> reference_lengths;
  for (const std::string& reference : references) {
    const std::vector<std::string> tokens = tokenize_13a(reference);
    reference_lengths.push_back(static_cast<int64_t>(tokens.size()));
    for (const auto& [ngram, count] : count_ngrams(tokens))
      reference_counts[ngram] = std::max(reference_counts[ngram], count);
  }
  const std::vector<std::string> tokens = tokenize_13a(hypothesis);
  BleuStats stats;
  stats.hypothesis_length = static_cast<int64_t>(tokens.size());
  // The closest reference length; ties go to the shorter.
  int64_t closest = -1;
  for (const int64_t length : reference_lengths) {
    const int64_t diff = std::abs(stats.hypothesis_length - length), best = std::abs(stats.hypothesis_length - closest);
    if (closest < 0 || diff < best || (diff == best && length < closest)) closest = length;
  }
  stats.reference_length = closest;
  for (const auto& [ngram, count] : count_ngrams(tokens)) {
    const size_t n = order_of(ngram) - 1;
    stats.totals[n] += count;
    if (const auto it = reference_counts.find(ngram); it != reference_counts.end())
      stats.matches[n] += std::min(count, it->second);
  }
  return stats;
}

double BleuScore::length_ratio() const {
  return stats.reference_length ? static_cast<double>(stats.hypothesis_length) / static_cast<double>(stats.reference_length)
                                : 0.0;
}

std::string BleuScore::summary() const {
  return fmt::format("BLEU = {:.2f} {:.1f}/{:.1f}/{:.1f}/{:.1f} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})",
                     score, precisions[0], precisions[1], precisions[2], precisions[3], brevity_penalty,
                     length_ratio(), stats.hypothesis_length, stats.reference_length);
}

// sacreBLEU's BLEU.compute_bleu with smooth_method = 'exp', operation for operation (so that the
// doubles agree to the last bit).
BleuScore bleu_from_stats(const BleuStats& stats, bool effective_order) {
  BleuScore r;
  r.stats = stats;
  const double hyp_len = static_cast<double>(stats.hypothesis_length), ref_len = static_cast<double>(stats.reference_length);
  r.brevity_penalty = 1.0;
  if (stats.hypothesis_length < stats.reference_length)
    r.brevity_penalty = stats.hypothesis_length > 0 ? std::exp(1 - ref_len / hyp_len) : 0.0;
  if (std::all_of(stats.matches.begin(), stats.matches.end(), [](int64_t m) { return m == 0; })) return r;
  double smooth = 1.0;
  int order = kBleuOrder;
  for (int n = 1; n <= kBleuOrder; ++n) {
    const double total = static_cast<double>(stats.totals[n - 1]), matched = static_cast<double>(stats.matches[n - 1]);
    if (stats.totals[n - 1] == 0) break;
    if (effective_order) order = n;
    if (stats.matches[n - 1] == 0) {
      smooth *= 2;
      r.precisions[n - 1] = 100.0 / (smooth * total);
    } else {
      r.precisions[n - 1] = 100.0 * matched / total;
    }
  }
  double log_sum = 0;
  for (int n = 0; n < order; ++n) log_sum += floored_log(r.precisions[n]);
  r.score = r.brevity_penalty * std::exp(log_sum / order);
  return r;
}

BleuScore corpus_bleu(std::span<const std::string> hypotheses, std::span<const std::vector<std::string>> references) {
  ATTNSCALE_CHECK(!references.empty(), "bleu", "corpus BLEU needs at least one reference stream");
  for (size_t r = 0; r < references.size(); ++r)
    ATTNSCALE_CHECK(references[r].size() == hypotheses.size(), "bleu",
                    "reference stream {} has {} sentences for {} hypotheses", r, references[r].size(), hypotheses.size());
  BleuStats total;
  std::vector<std::string> sentence_references(references.size());
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    for (size_t r = 0; r < references.size(); ++r) sentence_references[r] = references[r][i];
    total += bleu_stats(hypotheses[i], sentence_references);
  }
  return bleu_from_stats(total, false);
}

BleuScore sentence_bleu(std::string_view hypothesis, std::span<const std::string> references) {
  return bleu_from_stats(bleu_stats(hypothesis, references), true);
}

}  // namespace attnscale::eval

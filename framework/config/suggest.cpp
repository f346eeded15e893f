#include "framework/config/suggest.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace attnscale::config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance; three rows suffice for the swap rule.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        current[j] = std::min(current[j], before[j - 2] + 1);
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  // A third of the word's letters may be wrong, and at least one.
  std::size_t best_distance = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (std::string_view candidate : candidates) {
    if (equal_ignoring_case(word, candidate)) return candidate;
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (!best.empty() || word.size() < 3) return best;
  // No near spelling: a name that contains the word or is contained in it ("batch" -> "batch_size").
  for (std::string_view candidate : candidates) {
    const bool related = candidate.find(word) != std::string_view::npos ||
                         (candidate.size() >= 3 && word.find(candidate) != std::string_view::npos);
    if (related && (best.empty() || candidate.size() < best.size())) best = candidate;
  }
  return best;
}

}  // namespace attnscale::config

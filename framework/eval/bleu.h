// BLEU (Papineni et al. 2002) exactly as sacreBLEU 2.x computes it with its defaults, so that a
// score printed here is the score `sacrebleu REF -i HYP` prints for the same files:
//   - the 13a tokenizer (mteval-v13a.pl, WMT's): case kept, text on UTF-8 bytes;
//   - n-grams of order 1 to 4, clipped by the most frequent count in any reference; the brevity
//     penalty against the reference length closest to the hypothesis (ties: the shorter one);
//   - exponential smoothing (mteval's "exp": the k-th order with no match gets precision
//     1 / (2^k * total)); sentence BLEU with sacreBLEU's effective order (orders the hypothesis
//     is too short for are left out), corpus BLEU without.
// tests/eval/ checks every piece against values sacreBLEU 2.6.0 produced
// (tests/eval/make_bleu_fixtures.py).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace attnscale::eval {

inline constexpr int kBleuOrder = 4;

// sacreBLEU's tokenizer '13a': the line right-stripped of (Unicode) whitespace, the mteval
// entities and <skipped> markers resolved, punctuation split off, then split on whitespace.
std::vector<std::string> tokenize_13a(std::string_view line);

// The sufficient statistics of BLEU; a corpus's are the sum of its sentences'.
struct BleuStats {
  int64_t hypothesis_length = 0;  // tokens
  int64_t reference_length = 0;   // tokens of the closest reference
  std::array<int64_t, kBleuOrder> matches{};  // clipped n-gram matches, n = 1..4
  std::array<int64_t, kBleuOrder> totals{};   // hypothesis n-grams, n = 1..4
  BleuStats& operator+=(const BleuStats& other);
};

// One hypothesis against its references (at least one), 13a-tokenized.
BleuStats bleu_stats(std::string_view hypothesis, std::span<const std::string> references);

struct BleuScore {
  double score = 0;                          // 0..100
  std::array<double, kBleuOrder> precisions{};  // percent, smoothed
  double brevity_penalty = 0;
  BleuStats stats;
  double length_ratio() const;  // hypothesis / reference length (0 when there is no reference token)
  // sacreBLEU's line: "BLEU = 23.45 60.0/30.0/15.0/7.5 (BP = 1.000 ratio = 1.020 hyp_len = 51 ref_len = 50)".
  std::string summary() const;
};

// The score from summed statistics; `effective_order`: only the orders the hypotheses have n-grams of.
BleuScore bleu_from_stats(const BleuStats& stats, bool effective_order);

// sacreBLEU's corpus_bleu: references[r][i] is reference stream r's sentence i (one stream per set
// of references, each as long as `hypotheses`). UsageError "[bleu] ..." when the lengths differ.
BleuScore corpus_bleu(std::span<const std::string> hypotheses, std::span<const std::vector<std::string>> references);
// sacreBLEU's sentence_bleu (effective order on).
BleuScore sentence_bleu(std::string_view hypothesis, std::span<const std::string> references);

}  // namespace attnscale::eval

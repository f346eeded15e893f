#include "framework/models/beam_search.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace attnscale::models {
namespace {

struct Live {
  int64_t sentence = 0;
  Hypothesis hypothesis;
};

struct Candidate {
  double log_prob = 0;
  int64_t row = 0, token = 0;
};

// Higher log-probability first; ties to the earlier row, then the lower token (argmax's choice).
bool better(const Candidate& a, const Candidate& b) {
  if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
  return a.row != b.row ? a.row < b.row : a.token < b.token;
}

double ranking_score(const Hypothesis& h, double length_penalty) {
  if (length_penalty == 0) return h.log_prob;
  const double length = static_cast<double>(h.tokens.size()) + (h.ended ? 1 : 0);
  return h.log_prob / std::pow(std::max(length, 1.0), length_penalty);
}

}  // namespace

std::vector<double> log_softmax_rows(std::span<const double> logits, int64_t vocab) {
  std::vector<double> out(logits.size());
  for (size_t row = 0; row * vocab < logits.size(); ++row) {
    const double* x = logits.data() + row * vocab;
    const double max = *std::max_element(x, x + vocab);
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(x[v] - max);
    const double lse = max + std::log(sum);
    for (int64_t v = 0; v < vocab; ++v) out[row * vocab + v] = x[v] - lse;
  }
  return out;
}

std::vector<Hypothesis> beam_search(StepDecoder& decoder, int64_t sentences, const BeamOptions& options) {
  ATTNSCALE_CHECK(options.beam_size >= 1 && options.max_len >= 1, "beam_search",
                  "beam_size ({}) and max_len ({}) must be at least 1", options.beam_size, options.max_len);
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(sentences));
  std::vector<Live> live(static_cast<size_t>(sentences));
  for (int64_t s = 0; s < sentences; ++s) live[s].sentence = s;
  std::vector<Candidate> candidates;
  for (int64_t step = 0; step < options.max_len && !live.empty(); ++step) {
    std::vector<int64_t> previous;
    for (const Live& l : live) previous.push_back(l.hypothesis.tokens.empty() ? options.bos : l.hypothesis.tokens.back());
    const std::vector<double> log_probs = decoder.next_log_probs(previous);
    const int64_t rows = static_cast<int64_t>(live.size()), vocab = static_cast<int64_t>(log_probs.size()) / rows;
    ATTNSCALE_CHECK(vocab >= 1 && static_cast<int64_t>(log_probs.size()) == rows * vocab, "beam_search",
                    "the decoder gave {} log-probabilities for {} rows", log_probs.size(), rows);
    std::vector<Live> next;
    std::vector<int64_t> kept;
    // The live rows of a sentence are contiguous: the rows it kept, in order.
    for (int64_t first = 0; first < rows;) {
      const int64_t sentence = live[first].sentence;
      int64_t end = first;
      while (end < rows && live[end].sentence == sentence) ++end;
      candidates.clear();
      for (int64_t row = first; row < end; ++row)
        for (int64_t token = 0; token < vocab; ++token)
          candidates.push_back({live[row].hypothesis.log_prob + log_probs[row * vocab + token], row, token});
      const int64_t width = options.beam_size - static_cast<int64_t>(finished[sentence].size());
      const auto top = candidates.begin() + std::min<int64_t>(width, static_cast<int64_t>(candidates.size()));
      std::partial_sort(candidates.begin(), top, candidates.end(), better);
      for (auto c = candidates.begin(); c != top; ++c) {
        Hypothesis h{live[c->row].hypothesis.tokens, c->log_prob, c->token == options.eos};
        if (h.ended) {
          finished[sentence].push_back(std::move(h));
          continue;
        }
        h.tokens.push_back(c->token);
        if (step + 1 == options.max_len) finished[sentence].push_back(std::move(h));  // cut at max_len
        else next.push_back({sentence, std::move(h)}), kept.push_back(c->row);
      }
      first = end;
    }
    live = std::move(next);
    if (!live.empty()) decoder.keep(kept);
  }
  std::vector<Hypothesis> best(static_cast<size_t>(sentences));
  for (int64_t s = 0; s < sentences; ++s) {
    const auto& done = finished[s];
    const auto winner = std::max_element(done.begin(), done.end(), [&](const Hypothesis& a, const Hypothesis& b) {
      return ranking_score(a, options.length_penalty) < ranking_score(b, options.length_penalty);
    });
    best[s] = *winner;  // every sentence finishes at least one hypothesis by max_len
  }
  return best;
}

}  // namespace attnscale::models

// Greedy and beam search for the encoder-decoder models (seq2seq, encoder_decoder), over a batch of
// source sentences at once. A model gives a StepDecoder: it scores the next token of every live
// hypothesis in one batched call, and keeps the rows the search selects.
//
// The beam is the shrinking beam of Bahdanau et al.'s and Marian's decoders: each sentence keeps
// beam_size hypotheses; at every step the beam_size best extensions (by total log-probability,
// ties to the earlier row, then the lower token id) survive, and each that ends in eos leaves the
// beam as a finished hypothesis, so the beam shrinks by one. The search of a sentence stops when
// its beam is empty or after max_len tokens (a hypothesis still open then is finished without eos).
// So beam_size = 1 is greedy decoding, token for token, and a beam as wide as every prefix left
// alive prunes nothing: exhaustive search over outputs of up to max_len tokens
// (tests/seq2seq/test_beam_search.cpp checks both).
// The answer of a sentence is its finished hypothesis of highest log P / length^length_penalty
// (length counting the eos; length_penalty 0 = the log-probability itself).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace attnscale::models {

class StepDecoder {
 public:
  virtual ~StepDecoder() = default;
  // Row i of the decoder is live hypothesis i; at the start, row b is source sentence b.
  // Log-probabilities of the next token of every row, given the token it emitted last (bos at
  // the first step): [rows x vocab], row-major, double.
  virtual std::vector<double> next_log_probs(std::span<const int64_t> previous) = 0;
  // The next step continues rows `rows` of the last call, in that order (a row may repeat or go).
  virtual void keep(std::span<const int64_t> rows) = 0;
};

struct BeamOptions {
  int64_t beam_size = 1;
  int64_t max_len = 1;         // tokens generated at most per sentence (the eos included)
  double length_penalty = 0;   // alpha of log P / length^alpha when the finished hypotheses are ranked
  int64_t bos = 1, eos = 2;
};

struct Hypothesis {
  std::vector<int64_t> tokens;  // without bos and eos
  double log_prob = 0;          // sum of the log-probabilities of tokens (and of eos when ended)
  bool ended = false;           // emitted eos (false: cut at max_len)
};

// Log-softmax of each row of logits [rows x vocab] (row-major), in double.
std::vector<double> log_softmax_rows(std::span<const double> logits, int64_t vocab);

// The best hypothesis of each of the decoder's `sentences` rows. UsageError "[beam_search] ..." for
// beam_size or max_len < 1.
std::vector<Hypothesis> beam_search(StepDecoder& decoder, int64_t sentences, const BeamOptions& options);

}  // namespace attnscale::models

// Decoding the held-out set of a translation task and scoring it with BLEU: what `attnscale eval`
// adds for model.type = seq2seq and encoder_decoder.
//
// Every data-parallel rank decodes its share of each held-out batch (train.eval_batches of a
// synthetic task, or the whole data.eval_split of a pair corpus)
// (greedy, or beam search of eval.beam_size: models/beam_search.h), in batches; the ranks'
// sentences are gathered onto every rank in held-out order (batch by batch, rank by rank, as one
// rank holding the whole batch would see them), so a run on any number of ranks decodes, writes and
// scores the same sentences in the same order. The task turns ids into text (DecodingTask), and
// corpus BLEU is sacreBLEU's (eval/bleu.h) on that text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "framework/config/config.h"
#include "framework/core/tensor/tensor.h"
#include "framework/eval/bleu.h"
#include "framework/models/beam_search.h"
#include "framework/train/pair_data.h"
#include "framework/train/parallel_context.h"

namespace attnscale::train {

// One held-out sentence as text (what the files hold and BLEU scores).
struct DecodedSentence {
  std::string source, reference, hypothesis;
  double log_prob = 0;  // of the hypothesis (with its eos when it ended)
  bool ended = false;   // the hypothesis ended with eos (false: cut at max_len)
};

// What a task that translates gives the evaluation.
class DecodingTask {
 public:
  virtual ~DecodingTask() = default;
  // This rank's sentences of held-out batch `index` (the batches eval_batch scores), decoded with
  // `options` (its bos and eos are the task's, set here), as text: the synthetic tasks write ids as
  // decimal words ("17 5 9"), a corpus of real text its detokenized sentences.
  virtual std::vector<DecodedSentence> decode_batch(int64_t index, models::BeamOptions options) = 0;
  // The longest target the task holds (tokens, eos included): eval.max_len's default.
  virtual int64_t max_target_len() const = 0;
  // The held-out batches a decoding covers: a pair corpus's whole data.eval_split once, a
  // synthetic task's `eval_batches` (train.eval_batches).
  virtual int64_t decoding_batches(int64_t eval_batches) const = 0;
};

struct TranslationEval {
  eval::BleuScore bleu;
  int64_t sentences = 0;
  int64_t ended = 0;      // hypotheses that ended with eos (the rest were cut at max_len)
  double log_prob = 0;    // summed over the hypotheses
  std::vector<std::string> hypotheses, references, sources;  // in held-out order, every rank
};

// A synthetic batch's sentences: source int64 [B, S] up to its first `pad`, targets int64 [B, T] up
// to its first `eos` (or ignored position) and the search's hypotheses, one per row, each written
// as its ids in decimal words ("17 5 9").
std::vector<DecodedSentence> decoded_id_sentences(const Tensor& source, int64_t pad, const Tensor& targets,
                                                  int64_t eos, const std::vector<models::Hypothesis>& hypotheses);

// A pair-corpus batch's sentences (data.path from `attnscale prepare pairs`): the source and target
// texts the corpus holds for `pairs` (PairData::eval_pairs: the references as written, not
// round-tripped through the subword model), and the hypotheses decoded by the target side's
// SentencePiece model.
std::vector<DecodedSentence> decoded_pair_sentences(const PairData& data, std::span<const int64_t> pairs,
                                                    const std::vector<models::Hypothesis>& hypotheses);

// eval.* read into the search's options (max_len 0 = the task's longest target).
models::BeamOptions beam_options(const Config& cfg, const DecodingTask& task);

// Decodes batches [0, batches) on every rank and gathers them (a collective over parallel.world).
TranslationEval evaluate_translation(DecodingTask& task, const ParallelContext& parallel, int64_t batches,
                                     const models::BeamOptions& options);

// FILE (hypotheses), FILE.ref and FILE.src, one sentence a line. RuntimeFailure "[eval] ..." on I/O.
void write_translations(const TranslationEval& result, const std::filesystem::path& file);

}  // namespace attnscale::train

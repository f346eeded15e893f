#include "framework/train/translation_eval.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"
#include "framework/data/synthetic.h"
#include "framework/io/durable_fs.h"

namespace attnscale::train {
namespace {

// One rank's decoded batches as flat streams: per batch its sentence count, then per sentence
// ended, |source|, source, |reference|, reference, |hypothesis|, hypothesis; log-probabilities apart.
struct Packed {
  std::vector<int64_t> ids;
  std::vector<double> log_probs;
};

void append(std::vector<int64_t>& out, const std::vector<int64_t>& ids) {
  out.push_back(static_cast<int64_t>(ids.size()));
  out.insert(out.end(), ids.begin(), ids.end());
}

Packed pack(const std::vector<std::vector<DecodedSentence>>& batches) {
  Packed p;
  for (const auto& batch : batches) {
    p.ids.push_back(static_cast<int64_t>(batch.size()));
    for (const DecodedSentence& s : batch) {
      p.ids.push_back(s.ended ? 1 : 0);
      append(p.ids, s.source), append(p.ids, s.reference), append(p.ids, s.hypothesis);
      p.log_probs.push_back(s.log_prob);
    }
  }
  return p;
}

// The inverse of pack over one rank's part of the gathered streams.
std::vector<std::vector<DecodedSentence>> unpack(std::span<const int64_t> ids, std::span<const double> log_probs,
                                                 int64_t batches) {
  size_t at = 0, sentence = 0;
  const auto take = [&] {
    ATTNSCALE_CHECK(at < ids.size(), "eval", "gathered translations end early (at {} of {})", at, ids.size());
    return ids[at++];
  };
  const auto take_ids = [&] {
    const int64_t n = take();
    ATTNSCALE_CHECK(n >= 0 && at + static_cast<size_t>(n) <= ids.size(), "eval", "gathered translations are corrupt");
    std::vector<int64_t> out(ids.begin() + static_cast<std::ptrdiff_t>(at), ids.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += static_cast<size_t>(n);
    return out;
  };
  std::vector<std::vector<DecodedSentence>> out(static_cast<size_t>(batches));
  for (auto& batch : out) {
    batch.resize(static_cast<size_t>(take()));
    for (DecodedSentence& s : batch) {
      s.ended = take() != 0;
      s.source = take_ids(), s.reference = take_ids(), s.hypothesis = take_ids();
      s.log_prob = log_probs[sentence++];
    }
  }
  return out;
}

// A sentence's text on one line of a file.
std::string one_line(std::string text) {
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

// Each row of ids int64 [B, N] up to (without) its first id equal to `end` or kIgnoreIndex.
std::vector<std::vector<int64_t>> rows_until(const Tensor& ids, int64_t end) {
  const auto values = ids.contiguous().to_vector<int64_t>();
  const int64_t rows = ids.shape()[0], width = ids.shape()[1];
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < width; ++i) {
      const int64_t id = values[static_cast<size_t>(r * width + i)];
      if (id == end || id == data::kIgnoreIndex) break;
      out[r].push_back(id);
    }
  return out;
}

}  // namespace

std::vector<DecodedSentence> decoded_sentences(const Tensor& source, int64_t pad, const Tensor& targets, int64_t eos,
                                               std::vector<models::Hypothesis> hypotheses) {
  ATTNSCALE_CHECK(source.dim() == 2 && targets.dim() == 2 && source.shape()[0] == targets.shape()[0] &&
                      static_cast<int64_t>(hypotheses.size()) == source.shape()[0],
                  "eval", "a batch of sources {} and targets {} with {} hypotheses", shape_str(source.shape()),
                  shape_str(targets.shape()), hypotheses.size());
  auto sources = rows_until(source, pad), references = rows_until(targets, eos);
  std::vector<DecodedSentence> out(hypotheses.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = {std::move(sources[i]), std::move(references[i]), std::move(hypotheses[i].tokens), hypotheses[i].log_prob,
              hypotheses[i].ended};
  return out;
}

std::string ids_text(std::span<const int64_t> ids) { return fmt::format("{}", fmt::join(ids, " ")); }

models::BeamOptions beam_options(const Config& cfg, const DecodingTask& task) {
  models::BeamOptions o;
  o.beam_size = cfg.eval.beam_size;
  o.max_len = cfg.eval.max_len > 0 ? cfg.eval.max_len : task.max_target_len();
  o.length_penalty = cfg.eval.length_penalty;
  return o;
}

TranslationEval evaluate_translation(DecodingTask& task, const ParallelContext& parallel, int64_t batches,
                                     const models::BeamOptions& options) {
  std::vector<std::vector<DecodedSentence>> mine;
  for (int64_t index = 0; index < batches; ++index) mine.push_back(task.decode_batch(index, options));
  // Every rank's batches, in rank order.
  std::vector<std::vector<std::vector<DecodedSentence>>> ranks;
  if (parallel.world && parallel.world->size() > 1) {
    const Packed local = pack(mine);
    Communicator& world = *parallel.world;
    const auto to_counts = [](const std::vector<uint64_t>& sizes) { return std::vector<size_t>(sizes.begin(), sizes.end()); };
    const auto id_counts = to_counts(world.all_gather_value(static_cast<uint64_t>(local.ids.size())));
    const auto prob_counts = to_counts(world.all_gather_value(static_cast<uint64_t>(local.log_probs.size())));
    std::vector<int64_t> ids(std::accumulate(id_counts.begin(), id_counts.end(), size_t{0}));
    std::vector<double> log_probs(std::accumulate(prob_counts.begin(), prob_counts.end(), size_t{0}));
    world.all_gather_v(local.ids, ids, id_counts);
    world.all_gather_v(local.log_probs, log_probs, prob_counts);
    size_t id_at = 0, prob_at = 0;
    for (int r = 0; r < world.size(); ++r) {
      ranks.push_back(unpack(std::span(ids).subspan(id_at, id_counts[r]),
                             std::span(log_probs).subspan(prob_at, prob_counts[r]), batches));
      id_at += id_counts[r], prob_at += prob_counts[r];
    }
  } else {
    ranks.push_back(std::move(mine));
  }
  TranslationEval result;
  eval::BleuStats stats;
  for (int64_t index = 0; index < batches; ++index)
    for (const auto& rank : ranks)
      for (const DecodedSentence& s : rank[index]) {
        result.hypotheses.push_back(one_line(task.text(s.hypothesis)));
        result.references.push_back(one_line(task.text(s.reference)));
        result.sources.push_back(one_line(task.text(s.source)));
        stats += eval::bleu_stats(result.hypotheses.back(), {&result.references.back(), 1});
        ++result.sentences;
        result.ended += s.ended;
        result.log_prob += s.log_prob;
      }
  result.bleu = eval::bleu_from_stats(stats, false);  // corpus BLEU
  return result;
}

void write_translations(const TranslationEval& result, const std::filesystem::path& file) {
  const auto lines = [](const std::vector<std::string>& sentences) {
    std::string out;
    for (const std::string& s : sentences) out.append(s).append("\n");
    return out;
  };
  if (file.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    if (error)
      throw RuntimeFailure(fmt::format("[eval] cannot create {}: {}", file.parent_path().string(), error.message()));
  }
  write_file_durably(file, lines(result.hypotheses));
  write_file_durably(file.string() + ".ref", lines(result.references));
  write_file_durably(file.string() + ".src", lines(result.sources));
}

}  // namespace attnscale::train

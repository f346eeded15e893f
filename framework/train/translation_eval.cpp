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
// ended and the byte lengths of source, reference and hypothesis (whose bytes follow one another in
// `text`); log-probabilities apart.
struct Packed {
  std::vector<int64_t> counts;
  std::vector<uint8_t> text;
  std::vector<double> log_probs;
};

Packed pack(const std::vector<std::vector<DecodedSentence>>& batches) {
  Packed p;
  for (const auto& batch : batches) {
    p.counts.push_back(static_cast<int64_t>(batch.size()));
    for (const DecodedSentence& s : batch) {
      p.counts.push_back(s.ended ? 1 : 0);
      for (const std::string* t : {&s.source, &s.reference, &s.hypothesis}) {
        p.counts.push_back(static_cast<int64_t>(t->size()));
        p.text.insert(p.text.end(), t->begin(), t->end());
      }
      p.log_probs.push_back(s.log_prob);
    }
  }
  return p;
}

// The inverse of pack over one rank's part of the gathered streams.
std::vector<std::vector<DecodedSentence>> unpack(std::span<const int64_t> counts, std::span<const uint8_t> text,
                                                 std::span<const double> log_probs, int64_t batches) {
  size_t at = 0, text_at = 0, sentence = 0;
  const auto take = [&] {
    ATTNSCALE_CHECK(at < counts.size(), "eval", "gathered translations end early (at {} of {})", at, counts.size());
    return counts[at++];
  };
  const auto take_text = [&] {
    const int64_t n = take();
    ATTNSCALE_CHECK(n >= 0 && text_at + static_cast<size_t>(n) <= text.size(), "eval", "gathered translations are corrupt");
    std::string out(text.begin() + static_cast<std::ptrdiff_t>(text_at), text.begin() + static_cast<std::ptrdiff_t>(text_at + n));
    text_at += static_cast<size_t>(n);
    return out;
  };
  std::vector<std::vector<DecodedSentence>> out(static_cast<size_t>(batches));
  for (auto& batch : out) {
    batch.resize(static_cast<size_t>(take()));
    for (DecodedSentence& s : batch) {
      s.ended = take() != 0;
      s.source = take_text(), s.reference = take_text(), s.hypothesis = take_text();
      s.log_prob = log_probs[sentence++];
    }
  }
  return out;
}

// Every rank's part of `local`, in rank order (the sizes gathered first).
template <class T>
std::vector<std::vector<T>> gather_parts(Communicator& world, const std::vector<T>& local) {
  const std::vector<uint64_t> sizes = world.all_gather_value(static_cast<uint64_t>(local.size()));
  const std::vector<size_t> counts(sizes.begin(), sizes.end());
  std::vector<T> all(std::accumulate(counts.begin(), counts.end(), size_t{0}));
  world.all_gather_v(local, all, counts);
  std::vector<std::vector<T>> parts;
  size_t at = 0;
  for (const size_t n : counts) parts.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + n)), at += n;
  return parts;
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

std::vector<DecodedSentence> decoded_id_sentences(const Tensor& source, int64_t pad, const Tensor& targets,
                                                  int64_t eos, const std::vector<models::Hypothesis>& hypotheses) {
  ATTNSCALE_CHECK(source.dim() == 2 && targets.dim() == 2 && source.shape()[0] == targets.shape()[0] &&
                      static_cast<int64_t>(hypotheses.size()) == source.shape()[0],
                  "eval", "a batch of sources {} and targets {} with {} hypotheses", shape_str(source.shape()),
                  shape_str(targets.shape()), hypotheses.size());
  const auto sources = rows_until(source, pad), references = rows_until(targets, eos);
  const auto text = [](const std::vector<int64_t>& ids) { return fmt::format("{}", fmt::join(ids, " ")); };
  std::vector<DecodedSentence> out(hypotheses.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = {text(sources[i]), text(references[i]), text(hypotheses[i].tokens), hypotheses[i].log_prob,
              hypotheses[i].ended};
  return out;
}

std::vector<DecodedSentence> decoded_pair_sentences(const PairData& data, std::span<const int64_t> pairs,
                                                    const std::vector<models::Hypothesis>& hypotheses) {
  ATTNSCALE_CHECK(pairs.size() == hypotheses.size(), "eval", "{} pairs with {} hypotheses", pairs.size(),
                  hypotheses.size());
  const data::PairStore& store = data.store();
  const std::vector<std::string> sources = store.texts(data::PairSide::source, pairs);
  const std::vector<std::string> references = store.texts(data::PairSide::target, pairs);
  const data::SubwordModel& target = store.model(data::PairSide::target);
  std::vector<DecodedSentence> out(hypotheses.size());
  for (size_t i = 0; i < out.size(); ++i) {
    // The model's ids span the larger side's vocabulary: a piece the target side lacks is unknown there.
    std::vector<int64_t> ids = hypotheses[i].tokens;
    for (int64_t& id : ids)
      if (id >= target.vocab_size()) id = data::kSubwordUnk;
    out[i] = {sources[i], references[i], target.decode(ids), hypotheses[i].log_prob, hypotheses[i].ended};
  }
  return out;
}

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
    const auto counts = gather_parts(*parallel.world, local.counts);
    const auto text = gather_parts(*parallel.world, local.text);
    const auto log_probs = gather_parts(*parallel.world, local.log_probs);
    for (size_t r = 0; r < counts.size(); ++r) ranks.push_back(unpack(counts[r], text[r], log_probs[r], batches));
  } else {
    ranks.push_back(std::move(mine));
  }
  TranslationEval result;
  eval::BleuStats stats;
  for (int64_t index = 0; index < batches; ++index)
    for (const auto& rank : ranks)
      for (const DecodedSentence& s : rank[index]) {
        result.hypotheses.push_back(one_line(s.hypothesis));
        result.references.push_back(one_line(s.reference));
        result.sources.push_back(one_line(s.source));
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

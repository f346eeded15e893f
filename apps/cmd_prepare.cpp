// attnscale prepare docs: text/CSV/JSONL documents -> an HDF5 document corpus for HAN, or with
// --unit char for a character language model (framework/data/doc_prepare.h has the rules;
// doc_store.h the file layout).
//   attnscale prepare docs --input data/corpora/fine_foods.csv --format csv --split-column split
//       --output data/corpora/fine_foods.h5 --vocab-size 12000 --min-count 2
//   attnscale prepare docs --input data/corpora/austen.csv --unit char --output data/corpora/austen_chars.h5
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <map>

#include "apps/commands.h"
#include "framework/data/doc_prepare.h"

namespace attnscale::app {

void add_prepare_command(CLI::App& app) {
  auto* prepare = app.add_subcommand("prepare", "turn raw data into the files training reads");
  prepare->require_subcommand(1);
  auto* docs = prepare->add_subcommand(
      "docs", "documents (csv, jsonl or LABEL<TAB>TEXT lines) -> HDF5 corpus: vocabulary, sentence-split token ids, "
              "labels, train/validation/test splits");
  auto options = std::make_shared<data::PrepareOptions>();
  auto split = std::make_shared<std::string>("0.8,0.1,0.1");
  const std::map<std::string, data::DocFormat> formats{
      {"csv", data::DocFormat::csv}, {"jsonl", data::DocFormat::jsonl}, {"text", data::DocFormat::text}};
  const std::map<std::string, data::OnError> policies{{"skip", data::OnError::skip},
                                                      {"refuse", data::OnError::refuse}};
  docs->add_option("--input", options->inputs, "input file(s), read in order")->required()->check(CLI::ExistingFile);
  docs->add_option("--format", options->read.format, "csv (header row), jsonl (one object a line) or text "
                                                     "(LABEL<TAB>TEXT a line)")
      ->transform(CLI::CheckedTransformer(formats))
      ->default_str("csv");
  docs->add_option("--text-column", options->read.text_column, "column / field holding the text")->capture_default_str();
  docs->add_option("--label-column", options->read.label_column, "column / field holding the label")
      ->capture_default_str();
  docs->add_option("--split-column", options->read.split_column,
                   "column / field holding train|validation|test: keep the given splits instead of drawing them");
  docs->add_option("--output", options->output, "HDF5 file to write (replaced)")->required();
  const std::map<std::string, data::TokenUnit> units{{"word", data::TokenUnit::word},
                                                    {"char", data::TokenUnit::character}};
  docs->add_option("--unit", options->unit, "tokens: word (sentence-split words, lower-cased) or char (every "
                                           "UTF-8 character, one sequence per document: for character language models)")
      ->transform(CLI::CheckedTransformer(units))
      ->default_str("word");
  docs->add_option("--vocab-size", options->vocab_size, "ids in the vocabulary incl. <pad> and <unk>; 0 = no limit")
      ->capture_default_str();
  docs->add_option("--min-count", options->min_count, "keep words seen at least this often in the training split")
      ->capture_default_str();
  docs->add_option("--seed", options->seed, "seed of the random split")->capture_default_str();
  docs->add_option("--split", *split, "train,validation,test fractions of the random split")->capture_default_str();
  docs->add_option("--on-error", options->on_error,
                   "malformed records: refuse (exit 3, listing them) or skip (each reported as a warning)")
      ->transform(CLI::CheckedTransformer(policies))
      ->default_str("refuse");
  docs->callback([options, split] {
    options->fractions = data::parse_split_fractions(*split);
    const data::PrepareSummary summary = data::prepare_documents(*options);
    fmt::print("{}\nwrote {}\n", summary.str(), options->output.string());
  });
}

}  // namespace attnscale::app

// attnscale prepare docs: text/CSV/JSONL documents -> an HDF5 document corpus for HAN
// (framework/data/doc_prepare.h has the rules; doc_store.h the file layout).
//   attnscale prepare docs --input data/corpora/fine_foods.csv --format csv --split-column split
//       --output data/corpora/fine_foods.h5 --vocab-size 12000 --min-count 2
// attnscale prepare listops: generate Long Range Arena ListOps -> HDF5 (framework/data/listops.h).
//   attnscale prepare listops --output listops.h5 [--train 96000 --validation 2000 --test 2000 --seed 1]
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "apps/commands.h"
#include "framework/data/doc_prepare.h"
#include "framework/data/listops.h"

namespace attnscale::app {
namespace {

void add_listops_command(CLI::App& prepare) {
  auto* listops = prepare.add_subcommand(
      "listops", "generate ListOps (Long Range Arena rules: MAX MIN MED SM over digits, nested) -> HDF5 with "
                 "train/validation/test splits");
  auto options = std::make_shared<data::ListOpsOptions>();
  auto output = std::make_shared<std::string>();
  listops->add_option("--output", *output, "HDF5 file to write (replaced)")->required();
  listops->add_option("--train", options->sizes[0], "training examples")->capture_default_str();
  listops->add_option("--validation", options->sizes[1], "validation examples")->capture_default_str();
  listops->add_option("--test", options->sizes[2], "test examples")->capture_default_str();
  listops->add_option("--max-depth", options->max_depth, "deepest nesting (the root is depth 1)")
      ->capture_default_str();
  listops->add_option("--max-args", options->max_args, "most arguments of an operator")->capture_default_str();
  listops->add_option("--value-p", options->value_p, "probability that a node above --max-depth is an operator")
      ->capture_default_str();
  listops->add_option("--min-length", options->min_length, "shortest expression in tokens")->capture_default_str();
  listops->add_option("--max-length", options->max_length, "longest expression in tokens")->capture_default_str();
  listops->add_option("--seed", options->seed, "seed of every draw")->capture_default_str();
  listops->callback([options, output] {
    const data::ListOpsData generated = data::generate_listops(*options);
    data::write_listops(*output, generated);
    for (int s = 0; s < 3; ++s) {
      const data::ListOpsSplit& split = generated.splits[s];
      std::array<int64_t, data::kListOpsClasses> counts{};
      for (const int64_t label : split.labels) ++counts[label];
      const int64_t majority = split.size() ? *std::max_element(counts.begin(), counts.end()) : 0;
      fmt::print("{}: {} examples, {} tokens (mean {:.1f}, longest {}), majority label {:.3f}\n",
                 data::split_name(static_cast<data::Split>(s)), split.size(), split.tokens.size(),
                 split.size() ? static_cast<double>(split.tokens.size()) / static_cast<double>(split.size()) : 0.0,
                 split.longest(), split.size() ? static_cast<double>(majority) / static_cast<double>(split.size()) : 0.0);
    }
    fmt::print("wrote {}\n", *output);
  });
}

}  // namespace

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
  add_listops_command(*prepare);
}

}  // namespace attnscale::app

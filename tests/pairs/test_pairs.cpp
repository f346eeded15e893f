// The translation testbed's data: SentencePiece round trips, `attnscale prepare pairs` on the tiny
// Bible fixtures (Spanish RV1909 / English WEB, a few verses of seven books), the split by book,
// every bad input with its file:line, the HDF5 pair corpus read a batch at a time, and the batches
// the seq2seq and encoder-decoder tasks train on.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "base/error.h"
#include "framework/data/pair_batches.h"
#include "framework/data/pair_prepare.h"
#include "framework/data/pair_store.h"
#include "framework/data/subword.h"
#include "framework/data/synthetic.h"
#include "framework/train/pair_data.h"
#include "framework/train/seq2seq_task.h"
#include "tests/config/test_support.h"

namespace attnscale::testing {
namespace {

const std::filesystem::path kFixtures = source_dir / "tests/pairs/fixtures";

// The fixture lines as (reference, text).
std::vector<std::pair<std::string, std::string>> fixture_verses(const std::string& name) {
  std::istringstream in(read_file(kFixtures / name));
  std::vector<std::pair<std::string, std::string>> verses;
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    verses.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return verses;
}

data::PairPrepareOptions fixture_options(const TempDir& dir) {
  data::PairPrepareOptions o;
  o.source = kFixtures / "sparv.txt";
  o.target = kFixtures / "web.txt";
  o.output = dir / "pairs.h5";
  o.source_vocab = o.target_vocab = 120;
  o.validation_books = {"Ruth"};
  o.test_books = {"Mark", "I Samuel"};
  return o;
}

// The fixture corpus, prepared into `dir`: its options (output = the file).
data::PairPrepareOptions prepared_fixture(const TempDir& dir) {
  data::PairPrepareOptions options = fixture_options(dir);
  data::prepare_pairs(options);
  return options;
}

// The message of the DataError `prepare_pairs` throws for `options`, or "" when it succeeds.
std::string data_error(const data::PairPrepareOptions& options) {
  try {
    data::prepare_pairs(options);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

std::string contains(const std::string& text, const std::string& part) {
  return text.find(part) == std::string::npos ? "'" + part + "' not in: " + text : "";
}

TEST(Subword, RoundTripGivesTheTextBack) {
  std::vector<std::string> texts;
  for (const auto& [reference, text] : fixture_verses("sparv.txt")) texts.push_back(text);
  for (const auto algorithm : {data::SubwordAlgorithm::unigram, data::SubwordAlgorithm::bpe}) {
    const data::SubwordModel model(data::train_subword_model(texts, {150, algorithm, 7}));
    EXPECT_GT(model.vocab_size(), 50);
    EXPECT_LE(model.vocab_size(), 150);
    for (const std::string& text : texts) {
      const std::vector<int32_t> ids = model.encode(text);
      ASSERT_FALSE(ids.empty());
      EXPECT_EQ(std::count(ids.begin(), ids.end(), data::kSubwordUnk), 0) << text;
      EXPECT_EQ(model.decode(ids), text) << data::subword_algorithm_name(algorithm);
    }
  }
}

TEST(Subword, SpecialIdsAndDecodingAModelOutput) {
  const std::vector<std::string> texts{"la luz y la tierra", "y fue la luz", "la tierra y los cielos"};
  const data::SubwordModel model(data::train_subword_model(texts, {30, data::SubwordAlgorithm::unigram, 1}));
  EXPECT_EQ(model.piece(data::kSubwordPad), "<pad>");
  EXPECT_EQ(model.piece(data::kSubwordBos), "<s>");
  EXPECT_EQ(model.piece(data::kSubwordEos), "</s>");
  EXPECT_EQ(model.piece(data::kSubwordUnk), "<unk>");
  std::vector<int64_t> output{data::kSubwordBos};
  for (const int32_t id : model.encode("y fue la luz")) output.push_back(id);
  output.push_back(data::kSubwordEos);
  for (const int32_t id : model.encode("tierra")) output.push_back(id);  // after eos: not part of it
  output.push_back(data::kSubwordPad);
  EXPECT_EQ(model.decode(output), "y fue la luz");
  // An unseen character is <unk>.
  const std::vector<int32_t> unseen = model.encode("la luz ©");
  EXPECT_NE(std::count(unseen.begin(), unseen.end(), data::kSubwordUnk), 0);
  EXPECT_THROW(model.decode(std::vector<int32_t>{static_cast<int32_t>(model.vocab_size())}), UsageError);
  EXPECT_THROW(data::SubwordModel("not a model"), DataError);
}

TEST(Subword, TrainingIsDeterministic) {
  std::vector<std::string> texts;
  for (const auto& [reference, text] : fixture_verses("web.txt")) texts.push_back(text);
  EXPECT_EQ(data::train_subword_model(texts, {100, data::SubwordAlgorithm::unigram, 3}),
            data::train_subword_model(texts, {100, data::SubwordAlgorithm::unigram, 3}));
}

TEST(PreparePairs, WritesTheCorpusSplitByBook) {
  TempDir dir;
  const data::PairPrepareOptions options = fixture_options(dir);
  const data::PairPrepareSummary summary = data::prepare_pairs(options);
  const auto source = fixture_verses("sparv.txt"), target = fixture_verses("web.txt");
  EXPECT_EQ(summary.verses, (std::array<int64_t, 2>{49, 49}));
  EXPECT_EQ(summary.pairs, (std::array<int64_t, 3>{27, 8, 14}));  // Ruth 1:1-8; Mark 1:1-10, I Samuel 1:1-4
  EXPECT_EQ(summary.books, (std::array<int64_t, 3>{3, 1, 2}));

  const data::PairStore store(options.output);
  ASSERT_EQ(store.size(), 49);
  const std::map<std::string, data::Split> split_of_book{
      {"Genesis", data::Split::train}, {"Exodus", data::Split::train},    {"Jonah", data::Split::train},
      {"Ruth", data::Split::validation}, {"Mark", data::Split::test}, {"I Samuel", data::Split::test}};
  std::vector<int64_t> all(49);
  for (int64_t i = 0; i < 49; ++i) all[i] = i;
  const auto references = store.references(all);
  const auto source_texts = store.texts(data::PairSide::source, all);
  const auto target_texts = store.texts(data::PairSide::target, all);
  const auto source_ids = store.tokens(data::PairSide::source, all);
  const auto target_ids = store.tokens(data::PairSide::target, all);
  std::set<int64_t> seen;
  for (int s = 0; s < 3; ++s)
    for (const int64_t p : store.split(static_cast<data::Split>(s))) {
      const std::string& ref = references[p];
      EXPECT_EQ(split_of_book.at(ref.substr(0, ref.rfind(' '))), static_cast<data::Split>(s)) << ref;
      seen.insert(p);
    }
  EXPECT_EQ(seen.size(), 49u);  // the splits cover every pair once
  for (int64_t i = 0; i < 49; ++i) {
    // The source file's order, the texts as read, and ids that decode to them with the stored models.
    EXPECT_EQ(references[i], source[i].first);
    EXPECT_EQ(source_texts[i], source[i].second);
    EXPECT_EQ(target_texts[i], target[i].second);
    EXPECT_EQ(static_cast<int64_t>(source_ids[i].size()), store.length(data::PairSide::source, i));
    const bool training = std::binary_search(store.split(data::Split::train).begin(),
                                             store.split(data::Split::train).end(), i);
    if (training) {  // every character was seen: the round trip is exact
      EXPECT_EQ(store.model(data::PairSide::source).decode(source_ids[i]), source[i].second);
      EXPECT_EQ(store.model(data::PairSide::target).decode(target_ids[i]), target[i].second);
    }
  }
  // Repeats and any order: one read, each pair's own ids.
  const std::vector<int64_t> some{7, 3, 7, 48};
  const auto picked = store.tokens(data::PairSide::target, some);
  for (size_t k = 0; k < some.size(); ++k) EXPECT_EQ(picked[k], target_ids[some[k]]);
  EXPECT_EQ(store.test_books(), "Mark,I Samuel");
}

TEST(PreparePairs, SharedVocabularyIsOneModel) {
  TempDir dir;
  data::PairPrepareOptions options = fixture_options(dir);
  options.shared_vocab = true;
  data::prepare_pairs(options);
  const data::PairStore store(options.output);
  EXPECT_EQ(store.model(data::PairSide::source).serialized(), store.model(data::PairSide::target).serialized());
}

// Source and target files from the fixtures with some lines changed.
struct EditedFixtures {
  TempDir dir;
  data::PairPrepareOptions options = fixture_options(dir);
  EditedFixtures(const std::function<void(std::vector<std::string>&)>& edit_source,
                 const std::function<void(std::vector<std::string>&)>& edit_target = {}) {
    for (const auto& [name, edit, path] :
         {std::tuple("sparv.txt", edit_source, &options.source), std::tuple("web.txt", edit_target, &options.target)}) {
      std::vector<std::string> lines;
      for (const auto& [ref, text] : fixture_verses(name)) lines.push_back(ref + "\t" + text);
      if (edit) edit(lines);
      std::string joined;
      for (const auto& l : lines) joined += l + "\n";
      *path = dir / name;
      write_file(*path, joined);
    }
  }
};

TEST(PreparePairs, BadInputNamesFileAndLine) {
  const auto expect_error = [](const std::function<void(std::vector<std::string>&)>& edit, const std::string& part) {
    EditedFixtures f(edit);
    const std::string error = data_error(f.options);
    EXPECT_EQ(contains(error, (f.dir / "sparv.txt").string() + ":" + part), "");
    EXPECT_FALSE(std::filesystem::exists(f.options.output));
  };
  expect_error([](auto& l) { l[4] = ""; }, "5: empty line");
  expect_error([](auto& l) { l[4] = "  \t "; }, "5: empty line");
  expect_error([](auto& l) { l[2] = "Genesis 1:3 Y dijo Dios"; }, "3: no TAB between reference and text");
  expect_error([](auto& l) { l[2] = "Genesis 1:3\t   "; }, "3: 'Genesis 1:3' has no text");
  expect_error([](auto& l) { l[6] = "Genesis 1:7\tY hizo Dios la expansi\xF3n"; }, "7: invalid UTF-8");
  expect_error([](auto& l) { l[6] = "Genesis 1:7\tY hizo \xC0\xAF"; }, "7: invalid UTF-8");
  expect_error([](auto& l) { l[1] = "Genesis 1-2\ttext"; }, "2: reference 'Genesis 1-2' is not BOOK CHAPTER:VERSE");
  expect_error([](auto& l) { l[1] = "Genesis 1:0\ttext"; }, "2: reference 'Genesis 1:0' is not BOOK CHAPTER:VERSE");
  expect_error([](auto& l) { l[1] = "1:2\ttext"; }, "2: reference '1:2' is not BOOK CHAPTER:VERSE");
  expect_error([](auto& l) { l[3] = "Genesis 1:1\trepeated"; }, "4: reference 'Genesis 1:1' repeats line 1");
}

TEST(PreparePairs, MissingOrEmptySideIsADataError) {
  TempDir dir;
  data::PairPrepareOptions options = fixture_options(dir);
  options.target = dir / "missing.txt";
  EXPECT_EQ(contains(data_error(options), "the target file '" + (dir / "missing.txt").string() + "' does not exist"),
            "");
  write_file(dir / "empty.txt", "");
  options.target = dir / "empty.txt";
  EXPECT_EQ(contains(data_error(options), "holds no line"), "");
}

TEST(PreparePairs, UnpairedReferencesAreRefusedSkippedOrTakeTheirChapter) {
  // Exodus 20:4 only in the source, Jonah 1:9 only in the target.
  const auto drop_exodus_4 = [](std::vector<std::string>& lines) {
    lines.erase(std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.starts_with("Exodus 20:4\t"); }));
  };
  const auto add_jonah_9 = [](std::vector<std::string>& lines) { lines.push_back("Jonah 1:9\tHe said to them"); };
  {
    EditedFixtures f({}, [&](auto& l) { drop_exodus_4(l), add_jonah_9(l); });
    const std::string error = data_error(f.options);
    const int exodus_line = 12 + 4;  // Genesis 1:1-12, then Exodus 20:1..
    EXPECT_EQ(contains(error, fmt::format("sparv.txt:{}: reference 'Exodus 20:4' has no line in", exodus_line)), "");
    EXPECT_EQ(contains(error, "1 references of the source and 1 of the target are in one file only"), "");
  }
  {
    EditedFixtures f({}, [&](auto& l) { drop_exodus_4(l), add_jonah_9(l); });
    f.options.unpaired = data::Unpaired::skip;
    const data::PairPrepareSummary s = data::prepare_pairs(f.options);
    EXPECT_EQ(s.unpaired, (std::array<int64_t, 2>{1, 0 + 1}));
    EXPECT_EQ(s.pairs[0] + s.pairs[1] + s.pairs[2], 48);
  }
  {
    EditedFixtures f({}, [&](auto& l) { drop_exodus_4(l), add_jonah_9(l); });
    f.options.unpaired = data::Unpaired::skip_chapter;
    const data::PairPrepareSummary s = data::prepare_pairs(f.options);
    EXPECT_EQ(s.chapters_left_out, 2);                 // Exodus 20 and Jonah 1
    EXPECT_EQ(s.pairs_left_out_with_chapters, 9 + 5);  // their paired verses
    EXPECT_EQ(s.pairs[0], 27 - 1 - 14);
    const data::PairStore store(f.options.output);
    std::vector<int64_t> all(static_cast<size_t>(store.size()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    for (const std::string& ref : store.references(all))
      EXPECT_FALSE(ref.starts_with("Exodus") || ref.starts_with("Jonah")) << ref;
  }
}

TEST(PreparePairs, BookOptionsAreChecked) {
  TempDir dir;
  data::PairPrepareOptions options = fixture_options(dir);
  options.test_books = {"Mrak"};
  EXPECT_THROW(data::prepare_pairs(options), UsageError);
  options.test_books = {"Ruth"};  // also a validation book
  EXPECT_THROW(data::prepare_pairs(options), UsageError);
  options.validation_books = {"Genesis", "Exodus", "Jonah"};
  options.test_books = {"Ruth", "Mark", "I Samuel"};  // nothing left to train on
  EXPECT_THROW(data::prepare_pairs(options), UsageError);
  EXPECT_EQ(data::parse_book_list(" Mark, I Samuel ,,Ruth"), (std::vector<std::string>{"Mark", "I Samuel", "Ruth"}));
  EXPECT_TRUE(data::parse_book_list("").empty());
}

TEST(PairStore, RefusesInconsistentFiles) {
  TempDir dir;
  const data::PairPrepareOptions options = prepared_fixture(dir);
  const data::PairStore good(options.output);
  // A token id beyond the vocabulary: found when the pair is read, named by dataset and index.
  data::PairCorpus corpus;
  corpus.models = {good.model(data::PairSide::source).serialized(), good.model(data::PairSide::target).serialized()};
  corpus.add_pair("Genesis 1:1", {std::vector<int32_t>{5, 6}, std::vector<int32_t>{7, 100000}}, {"a b", "c d"});
  corpus.splits[0] = {0};
  write_pair_corpus(dir / "bad.h5", corpus);
  const data::PairStore bad(dir / "bad.h5");
  const std::vector<int64_t> first{0};
  EXPECT_NO_THROW(bad.tokens(data::PairSide::source, first));
  try {
    bad.tokens(data::PairSide::target, first);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(contains(e.what(), "target/tokens[1] = 100000 is outside the target vocabulary"), "");
  }
  // A split naming a pair twice, and files that are not pair corpora.
  corpus.splits[2] = {0};
  write_pair_corpus(dir / "twice.h5", corpus);
  EXPECT_THROW(data::PairStore(dir / "twice.h5"), DataError);
  EXPECT_THROW(data::PairStore(dir / "missing.h5"), DataError);
  write_file(dir / "text.h5", "not hdf5");
  EXPECT_THROW(data::PairStore(dir / "text.h5"), DataError);
}

TEST(PairBatches, EveryTrainingPairOncePerEpochWithinMaxLen) {
  TempDir dir;
  const data::PairPrepareOptions options = prepared_fixture(dir);
  const data::PairStore store(options.output);
  data::PairBatchSpec spec;
  spec.batch_size = 4;
  spec.bucket_batches = 2;
  spec.max_len = 30;
  const data::PairBatcher batcher(store, data::Split::train, spec);
  int64_t fitting = 0;
  for (const int64_t p : store.split(data::Split::train))
    fitting += store.length(data::PairSide::source, p) <= 30 && store.length(data::PairSide::target, p) <= 30;
  ASSERT_GT(batcher.left_out(), 0);  // the fixture has verses longer than 30 pieces
  EXPECT_EQ(batcher.pairs(), fitting);
  EXPECT_EQ(batcher.pairs() + batcher.left_out(), 27);
  std::multiset<int64_t> epoch;
  for (int64_t i = 0; i < batcher.batches_per_epoch(); ++i)
    for (const int64_t p : batcher.train_batch(i)) epoch.insert(p);
  EXPECT_EQ(static_cast<int64_t>(epoch.size()), batcher.batches_per_epoch() * 4);
  for (const int64_t p : epoch) EXPECT_EQ(epoch.count(p), 1u);
  // The next epoch is another order (over all 27 training pairs: 6 batches of 4).
  spec.max_len = 0;
  const data::PairBatcher all(store, data::Split::train, spec);
  std::vector<int64_t> first, second;
  for (int64_t i = 0; i < all.batches_per_epoch(); ++i) {
    for (const int64_t p : all.train_batch(i)) first.push_back(p);
    for (const int64_t p : all.train_batch(all.batches_per_epoch() + i)) second.push_back(p);
  }
  EXPECT_NE(first, second);
  spec.max_len = 2;
  EXPECT_THROW(data::PairBatcher(store, data::Split::train, spec), DataError);
}

TEST(PairBatches, TensorsOfARanksShare) {
  TempDir dir;
  const data::PairPrepareOptions options = prepared_fixture(dir);
  const data::PairStore store(options.output);
  const std::vector<int64_t> pairs{3, 0, 5, 1, 2};
  const data::TransductionBatch whole = data::make_pair_batch(store, pairs, 0, 1);
  const auto source = store.tokens(data::PairSide::source, pairs), target = store.tokens(data::PairSide::target, pairs);
  const int64_t s = whole.source.shape()[1], t = whole.target_inputs.shape()[1];
  const auto src = whole.source.to_vector<int64_t>(), lengths = whole.source_lengths.to_vector<int64_t>();
  const auto inputs = whole.target_inputs.to_vector<int64_t>(), outputs = whole.target_outputs.to_vector<int64_t>();
  int64_t longest_target = 0;
  for (size_t b = 0; b < pairs.size(); ++b) {
    const auto len = static_cast<int64_t>(source[b].size()), tlen = static_cast<int64_t>(target[b].size());
    longest_target = std::max(longest_target, tlen);
    EXPECT_EQ(lengths[b], len);
    for (int64_t j = 0; j < s; ++j) EXPECT_EQ(src[b * s + j], j < len ? source[b][j] : data::kPadId);
    EXPECT_EQ(inputs[b * t], data::kBosId);
    for (int64_t j = 0; j < t; ++j) {
      EXPECT_EQ(outputs[b * t + j], j < tlen ? target[b][j] : j == tlen ? data::kEosId : data::kIgnoreIndex);
      if (j > 0) {
        EXPECT_EQ(inputs[b * t + j], j <= tlen ? target[b][j - 1] : data::kPadId);
      }
    }
  }
  EXPECT_EQ(t, longest_target + 1);
  // Rank 1 of 2 holds pairs 2..4 of the batch ([5 / 2, 5)).
  const data::TransductionBatch share = data::make_pair_batch(store, pairs, 1, 2);
  EXPECT_EQ(share.source_lengths.to_vector<int64_t>(),
            (std::vector<int64_t>{lengths[2], lengths[3], lengths[4]}));
  EXPECT_THROW(data::make_pair_batch(store, std::vector<int64_t>{1}, 0, 2), UsageError);  // rank 0 of [0, 1 / 2)
}

// data.path of a seq2seq model: the evaluation batches visit the validation split once per pass,
// and eval_pairs names the pairs behind each batch's rows (what BLEU scores a decoding against).
TEST(PairData, EvaluationBatchesNameTheirPairs) {
  TempDir dir;
  const data::PairPrepareOptions options = prepared_fixture(dir);
  Config cfg;
  cfg.model.type = config::ModelType::seq2seq;
  cfg.attention.mechanism = "soft";
  cfg.data.path = options.output.string();
  cfg.data.batch_size = 3;
  cfg.seq2seq.max_len = 200;
  validate(cfg);
  const train::PairData pairs(cfg, {}, cfg.seq2seq.max_len);
  EXPECT_EQ(pairs.eval_split(), data::Split::validation);
  EXPECT_EQ(pairs.eval_batches_per_pass(), 3);  // 8 Ruth verses, 3 at a time
  std::vector<int64_t> visited;
  for (int64_t i = 0; i < pairs.eval_batches_per_pass(); ++i) {
    const std::vector<int64_t> ids = pairs.eval_pairs(i);
    const data::TransductionBatch batch = pairs.eval_batch(i);
    const auto lengths = batch.source_lengths.to_vector<int64_t>();
    ASSERT_EQ(lengths.size(), ids.size());
    for (size_t r = 0; r < ids.size(); ++r) EXPECT_EQ(lengths[r], pairs.store().length(data::PairSide::source, ids[r]));
    visited.insert(visited.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(visited, pairs.store().split(data::Split::validation));
  EXPECT_EQ(pairs.vocab_size(), std::max(pairs.store().model(data::PairSide::source).vocab_size(),
                                         pairs.store().model(data::PairSide::target).vocab_size()));
  // The synthetic task's keys would be ignored: refused, naming the key.
  cfg.data.vocab_size = 50;
  try {
    train::Seq2SeqTask task(cfg);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(contains(e.what(), "data.vocab_size"), "");
  }
}

using PreparePairsProgram = ProgramTest;

TEST_F(PreparePairsProgram, ReportsTheCorpusAndRefusesBadInputWithExitCode3) {
  TempDir dir;
  const auto out = dir / "pairs.h5";
  const std::vector<std::string> base{"prepare", "pairs", "--source", (kFixtures / "sparv.txt").string(),
                                      "--output", out.string(), "--source-vocab", "120", "--target-vocab", "120",
                                      "--validation-books", "Ruth", "--test-books", "Mark,I Samuel", "--target"};
  auto args = base;
  args.push_back((kFixtures / "web.txt").string());
  const ProgramResult ok = run_attnscale(args);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(contains(ok.out, "pairs 49: train 27 (3 books), validation 8 (1 books), test 14 (2 books)"), "");
  EXPECT_EQ(data::PairStore(out).size(), 49);

  write_file(dir / "bad.txt", "Genesis 1:1\tIn the beginning\n\nGenesis 1:3\tGod said\n");
  args = base;
  args.push_back((dir / "bad.txt").string());
  const ProgramResult bad = run_attnscale(args);
  EXPECT_EQ(bad.exit_code, 3) << bad.out << bad.err;
  EXPECT_EQ(contains(bad.err, (dir / "bad.txt").string() + ":2: empty line"), "");

  args = base;
  args.push_back((dir / "missing.txt").string());
  EXPECT_EQ(run_attnscale(args).exit_code, 3);
  args = base;
  std::replace(args.begin(), args.end(), std::string("Mark,I Samuel"), std::string("Mrak"));
  args.push_back((kFixtures / "web.txt").string());
  const ProgramResult unknown_book = run_attnscale(args);
  EXPECT_EQ(unknown_book.exit_code, 2) << unknown_book.err;
  EXPECT_EQ(contains(unknown_book.err, "--test-books: 'Mrak' is not a book of the aligned pairs"), "");
}

}  // namespace
}  // namespace attnscale::testing

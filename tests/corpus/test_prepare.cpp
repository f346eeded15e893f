// prepare docs on the committed fixtures: well-formed inputs, every kind of malformed record (by
// line number), skip vs refuse, seeded splits, and the HDF5 round trip.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "framework/data/doc_prepare.h"

namespace attnscale::data {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "tests/corpus/fixtures";

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("attnscale_corpus_" + std::to_string(::getpid()) + "_" + name);
}

ReadResult read(const std::string& file, DocFormat format, const std::string& split_column = "") {
  ReadResult r;
  read_documents(kFixtures / file, {format, "text", "label", split_column}, r);
  return r;
}

std::vector<std::string> sources(const ReadResult& r) {
  std::vector<std::string> out;
  for (const auto& m : r.malformed) out.push_back(m.source.substr(m.source.rfind(':') + 1) + " " + m.reason);
  return out;
}

TEST(ReadDocuments, CsvWithQuotesNewlinesAndGivenSplits) {
  const ReadResult r = read("reviews.csv", DocFormat::csv, "split");
  ASSERT_EQ(r.documents.size(), 4u);
  EXPECT_TRUE(r.malformed.empty());
  EXPECT_EQ(r.documents[1].text, "Stale chips, \"crunchy\" they said.<br /><br />Not again.");
  EXPECT_EQ(r.documents[2].text, "The tea was fine\nbut the box arrived crushed.");
  EXPECT_EQ(r.documents[2].split, "test");
  // The multi-line record is reported by its first line; the next record starts two lines later.
  EXPECT_TRUE(r.documents[2].source.ends_with(":4"));
  EXPECT_TRUE(r.documents[3].source.ends_with(":6"));
}

TEST(ReadDocuments, CsvMalformedRecordsByLine) {
  const ReadResult r = read("reviews_malformed.csv", DocFormat::csv, "split");
  EXPECT_EQ(r.records, 8);
  ASSERT_EQ(r.documents.size(), 3u);  // line 7 (only <br /> tags) is caught after tokenising
  const auto found = sources(r);
  ASSERT_EQ(found.size(), 5u);
  EXPECT_EQ(found[0], "3 2 fields where the header has 3");
  EXPECT_EQ(found[1], "4 empty text");
  EXPECT_EQ(found[2], "5 empty label");
  EXPECT_EQ(found[3], "6 split 'dev' is not train, validation or test");
  EXPECT_EQ(found[4], "9 unterminated quoted field (the file ends inside quotes)");
}

TEST(ReadDocuments, CsvMissingColumnIsADataError) {
  ReadResult r;
  EXPECT_THROW(read_documents(kFixtures / "reviews.csv", {DocFormat::csv, "body", "label", ""}, r), DataError);
}

TEST(ReadDocuments, JsonlMalformedLines) {
  const ReadResult r = read("docs.jsonl", DocFormat::jsonl);
  EXPECT_EQ(r.records, 7);
  EXPECT_EQ(r.blank_lines, 1);
  ASSERT_EQ(r.documents.size(), 3u);
  EXPECT_EQ(r.documents[1].label, "7");  // integer labels are accepted
  const auto found = sources(r);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0], "4 no string field 'text'");
  EXPECT_TRUE(found[1].starts_with("5 invalid JSON"));
  EXPECT_EQ(found[2], "6 not a JSON object");
  EXPECT_EQ(found[3], "7 no string field 'text'");
}

TEST(ReadDocuments, TextLinesNeedATab) {
  const ReadResult r = read("novels.txt", DocFormat::text);
  EXPECT_EQ(r.records, 4);
  EXPECT_EQ(r.blank_lines, 1);
  ASSERT_EQ(r.documents.size(), 3u);
  EXPECT_EQ(sources(r), (std::vector<std::string>{"3 no tab between label and text"}));
}

TEST(PrepareDocuments, RefuseListsEveryMalformedLineAndWritesNothing) {
  PrepareOptions o;
  o.inputs = {kFixtures / "reviews_malformed.csv"};
  o.read.split_column = "split";
  o.output = temp_file("refused.h5");
  std::filesystem::remove(o.output);
  try {
    prepare_documents(o);
    FAIL() << "malformed input was accepted";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("6 malformed record(s)"), std::string::npos) << message;
    for (const char* line : {":3:", ":4:", ":5:", ":6:", ":7: no token after tokenisation", ":9:"})
      EXPECT_NE(message.find(line), std::string::npos) << line << " missing in " << message;
  }
  EXPECT_FALSE(std::filesystem::exists(o.output));
}

TEST(PrepareDocuments, SkipCountsEverythingAndKeepsGivenSplits) {
  PrepareOptions o;
  o.inputs = {kFixtures / "reviews_malformed.csv"};
  o.read.split_column = "split";
  o.on_error = OnError::skip;
  DocCorpus corpus;
  const PrepareSummary s = prepare_documents(o, &corpus);
  EXPECT_EQ(s.records, 8);
  EXPECT_EQ(s.malformed, 5);
  EXPECT_EQ(s.empty_after_tokenising, 1);
  EXPECT_EQ(s.documents, 2);
  EXPECT_EQ(s.records, s.malformed + s.empty_after_tokenising + s.documents);  // nothing unaccounted for
  EXPECT_EQ(corpus.split(Split::train), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(corpus.label_names, (std::vector<std::string>{"great"}));
}

TEST(PrepareDocuments, RaggedArraysVocabularyAndRoundTrip) {
  PrepareOptions o;
  o.inputs = {kFixtures / "reviews.csv"};
  o.read.split_column = "split";
  o.output = temp_file("reviews.h5");
  DocCorpus corpus;
  const PrepareSummary s = prepare_documents(o, &corpus);
  EXPECT_EQ(s.documents, 4);
  EXPECT_EQ(corpus.label_names, (std::vector<std::string>{"great", "other"}));
  EXPECT_EQ(corpus.labels, (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(corpus.split(Split::train), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(corpus.split(Split::test), (std::vector<int64_t>{2, 3}));
  // Document 0: "Great coffee." "I love it!" "Would buy again." -> 3 sentences of 3, 4, 4 tokens.
  EXPECT_EQ(corpus.num_sentences(0), 3);
  EXPECT_EQ(corpus.sentence_length(0), 3);
  EXPECT_EQ(corpus.sentence_length(1), 4);
  // Words only in the test split ("tea") are unknown; training words have ids.
  const auto id_of = [&](const std::string& w) {
    const auto it = std::find(corpus.vocabulary.begin(), corpus.vocabulary.end(), w);
    return it == corpus.vocabulary.end() ? int64_t{-1} : static_cast<int64_t>(it - corpus.vocabulary.begin());
  };
  EXPECT_EQ(id_of("tea"), -1);
  EXPECT_GT(id_of("coffee"), 1);
  EXPECT_EQ(corpus.tokens[0], id_of("great"));
  EXPECT_GT(s.unknown_tokens, 0);

  const DocCorpus back = read_doc_corpus(o.output);
  EXPECT_EQ(back.tokens, corpus.tokens);
  EXPECT_EQ(back.sentence_offsets, corpus.sentence_offsets);
  EXPECT_EQ(back.document_offsets, corpus.document_offsets);
  EXPECT_EQ(back.labels, corpus.labels);
  EXPECT_EQ(back.vocabulary, corpus.vocabulary);
  EXPECT_EQ(back.label_names, corpus.label_names);
  for (int sp = 0; sp < 3; ++sp) EXPECT_EQ(back.splits[sp], corpus.splits[sp]);
  std::filesystem::remove(o.output);
}

TEST(PrepareDocuments, SeededRandomSplitIsReproducibleAndComplete) {
  PrepareOptions o;
  o.inputs = {kFixtures / "docs.jsonl"};
  o.read.format = DocFormat::jsonl;
  o.on_error = OnError::skip;
  o.fractions = {0.34, 0.33, 0.33};
  DocCorpus a, b, c;
  prepare_documents(o, &a);
  prepare_documents(o, &b);
  EXPECT_EQ(a.splits, b.splits);
  std::vector<int64_t> all;
  for (const auto& s : a.splits) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<int64_t>{0, 1, 2}));  // every document in exactly one split
  EXPECT_EQ(a.split(Split::validation).size(), 0u);  // floor(3 * 0.33) = 0
  o.seed = 99;
  prepare_documents(o, &c);
  EXPECT_EQ(c.tokens.size(), a.tokens.size());
}

TEST(PrepareDocuments, SplitFractionsAreChecked) {
  EXPECT_EQ(parse_split_fractions("0.8,0.1,0.1"), (std::array<double, 3>{0.8, 0.1, 0.1}));
  EXPECT_THROW(parse_split_fractions("0.8,0.1"), UsageError);
  EXPECT_THROW(parse_split_fractions("0.8,0.1,0.2"), UsageError);
  EXPECT_THROW(parse_split_fractions("0.8,x,0.2"), UsageError);
}

TEST(DocStore, RejectsFilesThatAreNotCorpora) {
  EXPECT_THROW(read_doc_corpus(temp_file("missing.h5")), DataError);
  const auto bogus = temp_file("bogus.h5");
  {
    std::ofstream(bogus) << "not hdf5";
  }
  EXPECT_THROW(read_doc_corpus(bogus), DataError);
  std::filesystem::remove(bogus);
}

}  // namespace
}  // namespace attnscale::data

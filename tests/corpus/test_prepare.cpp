// prepare docs on the committed fixtures: well-formed inputs, every kind of malformed record (by
// line number), skip vs refuse, seeded splits, and the HDF5 round trip.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
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

// Writes `bytes` to a temporary file and reads it in `format`.
ReadResult read_bytes(const std::string& name, const std::string& bytes, DocFormat format) {
  const auto path = temp_file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  ReadResult r;
  read_documents(path, {format, "text", "label", ""}, r);
  std::filesystem::remove(path);
  return r;
}

// CSV, JSON Lines and text agree: a record that is not valid UTF-8 is malformed, named by its line.
TEST(ReadDocuments, InvalidUtf8IsMalformedInEveryFormat) {
  const std::string bad = "caf\xC3(";  // a 2-byte lead followed by ASCII
  const ReadResult csv = read_bytes("bad.csv", "text,label\nfine,a\n" + bad + ",b\n\"x\",\xff\n", DocFormat::csv);
  EXPECT_EQ(csv.documents.size(), 1u);
  EXPECT_EQ(sources(csv), (std::vector<std::string>{"3 invalid UTF-8 (byte 0xc3 at offset 3 of field 'text')",
                                                     "4 invalid UTF-8 (byte 0xff at offset 0 of field 'label')"}));
  const ReadResult jsonl = read_bytes(
      "bad.jsonl", "{\"text\": \"fine\", \"label\": \"a\"}\n{\"text\": \"" + bad + "\", \"label\": \"b\"}\n",
      DocFormat::jsonl);
  EXPECT_EQ(jsonl.documents.size(), 1u);
  EXPECT_EQ(sources(jsonl), (std::vector<std::string>{"2 invalid UTF-8 (byte 0xc3 at offset 13 of the line)"}));
  const ReadResult text = read_bytes("bad.txt", "a\tfine\nb\t" + bad + "\n", DocFormat::text);
  EXPECT_EQ(text.documents.size(), 1u);
  EXPECT_EQ(sources(text), (std::vector<std::string>{"2 invalid UTF-8 (byte 0xc3 at offset 5 of the line)"}));
  // Overlong forms and UTF-16 surrogates are not UTF-8 either; 4-byte characters are.
  EXPECT_EQ(read_bytes("overlong.txt", "a\t\xC0\xAFx\n", DocFormat::text).malformed.size(), 1u);
  EXPECT_EQ(read_bytes("surrogate.txt", "a\t\xED\xA0\x80x\n", DocFormat::text).malformed.size(), 1u);
  EXPECT_TRUE(read_bytes("emoji.txt", "a\tok \xF0\x9F\x99\x82 \xC3\xA9t\xC3\xA9\n", DocFormat::text).malformed.empty());
}

// Editors on Windows start UTF-8 files with a byte order mark; it is not part of the first field.
TEST(ReadDocuments, ByteOrderMarkIsSkipped) {
  const std::string bom = "\xEF\xBB\xBF";
  const ReadResult csv = read_bytes("bom.csv", bom + "text,label\nhello there,a\n", DocFormat::csv);
  ASSERT_EQ(csv.documents.size(), 1u);
  EXPECT_EQ(csv.documents[0].text, "hello there");
  const ReadResult jsonl = read_bytes("bom.jsonl", bom + "{\"text\": \"hi\", \"label\": \"a\"}\n", DocFormat::jsonl);
  ASSERT_EQ(jsonl.documents.size(), 1u);
  const ReadResult text = read_bytes("bom.txt", bom + "a\thello\n", DocFormat::text);
  ASSERT_EQ(text.documents.size(), 1u);
  EXPECT_EQ(text.documents[0].label, "a");
}

// A binary file given by mistake: the messages quote at most a short, escaped excerpt of it.
TEST(ReadDocuments, BinaryInputIsQuotedShortAndEscaped) {
  std::string garbage(20000, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131 + 7) % 256);
  for (char& c : garbage)
    if (c == '\n') c = 'x';  // one long header line
  const auto path = temp_file("garbage.csv");
  std::ofstream(path, std::ios::binary) << garbage << "\n";
  ReadResult r;
  try {
    read_documents(path, {DocFormat::csv, "text", "label", ""}, r);
    ADD_FAILURE() << "a binary header was accepted";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_LT(message.size(), 400u) << message;
    EXPECT_NE(message.find("... ("), std::string::npos) << message;
    for (const char c : message) EXPECT_TRUE(c == ' ' || c == '\t' || std::isgraph(static_cast<unsigned char>(c))) << message;
  }
  std::filesystem::remove(path);
  const ReadResult jsonl = read_bytes("long.jsonl", "{\"text\": " + std::string(20000, 't') + "}\n", DocFormat::jsonl);
  ASSERT_EQ(jsonl.malformed.size(), 1u);
  EXPECT_LT(jsonl.malformed[0].reason.size(), 300u) << jsonl.malformed[0].reason;
  ReadResult with_split;
  const auto split_path = temp_file("split2.csv");
  std::ofstream(split_path, std::ios::binary) << "text,label,split\nhi,a," << std::string(5000, 'z') << "\n";
  read_documents(split_path, {DocFormat::csv, "text", "label", "split"}, with_split);
  std::filesystem::remove(split_path);
  ASSERT_EQ(with_split.malformed.size(), 1u);
  EXPECT_LT(with_split.malformed[0].reason.size(), 200u) << with_split.malformed[0].reason;
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

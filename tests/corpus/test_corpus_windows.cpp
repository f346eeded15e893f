// prepare docs --unit char (characters, case and whitespace kept, the unit stored in the file) and
// the language-model windows cut from a prepared corpus (framework/data/corpus_windows.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "framework/data/corpus_windows.h"
#include "framework/data/doc_prepare.h"
#include "framework/data/tokenizer.h"

namespace attnscale::data {
namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("attnscale_windows_" + std::to_string(::getpid()) + "_" + name);
}

// Four chapters; the first two train, then one validation and one test chapter (given splits).
DocCorpus prepare_chapters(const std::filesystem::path& output) {
  const std::filesystem::path csv = temp_file("chapters.csv");
  std::ofstream(csv) << "text,label,split\n"
                        "\"It is a truth universally acknowledged.\nCafé!\",pp,train\n"
                        "\"Emma Woodhouse, handsome, clever, and rich.\",emma,train\n"
                        "\"She was the youngest of the two daughters.\",emma,validation\n"
                        "\"Sir Walter Elliot never took up any book: Zebra.\",persuasion,test\n";
  PrepareOptions o;
  o.inputs = {csv};
  o.read.split_column = "split";
  o.unit = TokenUnit::character;
  o.output = output;
  DocCorpus corpus;
  prepare_documents(o, &corpus);
  std::filesystem::remove(csv);
  return corpus;
}

std::string text_of(const DocCorpus& corpus, std::span<const int64_t> ids) {
  std::string text;
  for (const int64_t id : ids) text += corpus.vocabulary[static_cast<size_t>(id)];
  return text;
}

TEST(CharacterCorpus, KeepsEveryCharacterCaseAndNewlineAndStoresTheUnit) {
  const std::filesystem::path file = temp_file("chars.h5");
  const DocCorpus corpus = prepare_chapters(file);
  EXPECT_EQ(corpus.unit, TokenUnit::character);
  ASSERT_EQ(corpus.num_documents(), 4);
  for (int64_t d = 0; d < 4; ++d) EXPECT_EQ(corpus.num_sentences(d), 1) << "a document is one sequence";
  // Training documents decode to their text exactly: 'é' is one two-byte token, '\n' a token.
  EXPECT_EQ(text_of(corpus, corpus.sentence(0)), "It is a truth universally acknowledged.\nCafé!");
  EXPECT_EQ(corpus.sentence_length(0), 45);
  EXPECT_NE(std::find(corpus.vocabulary.begin(), corpus.vocabulary.end(), "é"), corpus.vocabulary.end());
  EXPECT_NE(std::find(corpus.vocabulary.begin(), corpus.vocabulary.end(), "E"), corpus.vocabulary.end());
  // 'Z' appears only in the test chapter: unknown there (the vocabulary is the training split's).
  EXPECT_EQ(std::find(corpus.vocabulary.begin(), corpus.vocabulary.end(), "Z"), corpus.vocabulary.end());
  EXPECT_EQ(corpus.sentence(3)[42], Vocabulary::kUnk);

  const DocCorpus back = read_doc_corpus(file);
  EXPECT_EQ(back.unit, TokenUnit::character);
  EXPECT_EQ(back.tokens, corpus.tokens);
  EXPECT_EQ(back.vocabulary, corpus.vocabulary);
  std::filesystem::remove(file);
}

TEST(CharacterCorpus, SplitCharactersKeepsMultibyteSequencesWhole) {
  EXPECT_EQ(split_characters("aé\n€"), (std::vector<std::string>{"a", "é", "\n", "€"}));
  EXPECT_TRUE(split_characters("").empty());
}

TEST(CorpusWindows, RandomWindowsAreShiftedSlicesOfTheTrainingStream) {
  const DocCorpus corpus = prepare_chapters({});
  std::vector<int64_t> stream;
  for (const int64_t d : corpus.split(Split::train)) {
    const auto s = corpus.sentence(corpus.document_offsets[d]);
    stream.insert(stream.end(), s.begin(), s.end());
  }
  const CorpusWindows windows(corpus, Split::train, 8, 5, 42);
  EXPECT_EQ(windows.tokens(), static_cast<int64_t>(stream.size()));
  const TokenBatch b = windows.random_batch(3);
  ASSERT_EQ(shape_str(b.inputs.shape()), "[5, 8]");
  const auto in = b.inputs.to_vector<int64_t>(), tgt = b.targets.to_vector<int64_t>();
  for (int64_t s = 0; s < 5; ++s) {
    // Find the window in the stream; the target of each input is the token after it.
    const auto start = std::search(stream.begin(), stream.end(), in.begin() + s * 8, in.begin() + s * 8 + 8);
    ASSERT_NE(start, stream.end());
    EXPECT_TRUE(std::equal(tgt.begin() + s * 8, tgt.begin() + s * 8 + 8, start + 1));
  }
  // A pure function of the index.
  EXPECT_EQ(windows.random_batch(3).inputs.to_vector<int64_t>(), in);
  EXPECT_NE(windows.random_batch(4).inputs.to_vector<int64_t>(), in);
}

TEST(CorpusWindows, ConsecutiveWindowsTileTheSplitOnce) {
  const DocCorpus corpus = prepare_chapters({});
  const CorpusWindows windows(corpus, Split::validation, 4, 2, 1);
  const auto s = corpus.sentence(corpus.document_offsets[corpus.split(Split::validation)[0]]);
  ASSERT_EQ(windows.tokens(), 42);
  EXPECT_EQ(windows.windows(), 10);  // (42 - 1) / 4
  EXPECT_EQ(windows.consecutive_batches(), 5);
  const TokenBatch b = windows.consecutive_batch(1);  // windows 2 and 3: tokens 8 .. 15, targets 9 .. 16
  EXPECT_EQ(b.inputs.to_vector<int64_t>(), std::vector<int64_t>(s.begin() + 8, s.begin() + 16));
  EXPECT_EQ(b.targets.to_vector<int64_t>(), std::vector<int64_t>(s.begin() + 9, s.begin() + 17));
  EXPECT_THROW(windows.consecutive_batch(5), UsageError);
  EXPECT_THROW(CorpusWindows(corpus, Split::validation, 42, 1, 1), DataError);  // needs 43 tokens
}

}  // namespace
}  // namespace attnscale::data

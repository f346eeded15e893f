// The HDF5 form of a bAbI data set (layout in babi_like.h): ragged statements and questions as
// tokens + offsets, like the document corpus of doc_store.h.
#include <fmt/format.h>

#include "base/error.h"
#include "framework/data/babi_like.h"
#include "framework/io/hdf5.h"

namespace attnscale::data {
namespace {

constexpr const char* kFormat = "attnscale-babi";
constexpr int64_t kVersion = 1;

Tensor int_tensor(const std::vector<int64_t>& values) {
  return Tensor::from(values, {static_cast<int64_t>(values.size())});
}

void write_sentences(h5::File& file, const std::string& group, const std::vector<const BabiSentence*>& sentences) {
  std::vector<int64_t> tokens, offsets{0};
  for (const BabiSentence* s : sentences) {
    tokens.insert(tokens.end(), s->begin(), s->end());
    offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  file.write_tensor(group + "/tokens", int_tensor(tokens));
  file.write_tensor(group + "/offsets", int_tensor(offsets));
}

std::vector<BabiSentence> read_sentences(const h5::File& file, const std::string& group) {
  const auto tokens = file.read_tensor(group + "/tokens").to_vector<int64_t>();
  const auto offsets = file.read_tensor(group + "/offsets").to_vector<int64_t>();
  if (offsets.empty() || offsets.front() != 0 || offsets.back() != static_cast<int64_t>(tokens.size()))
    throw DataError(fmt::format("[babi] {}: {}/offsets must run from 0 to {} (the tokens)", file.path().string(), group,
                                tokens.size()));
  std::vector<BabiSentence> sentences;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (offsets[i + 1] < offsets[i])
      throw DataError(fmt::format("[babi] {}: {}/offsets decrease at index {}", file.path().string(), group, i));
    sentences.emplace_back(tokens.begin() + offsets[i], tokens.begin() + offsets[i + 1]);
  }
  return sentences;
}

std::vector<int64_t> read_ints(const h5::File& file, const std::string& name, size_t expected) {
  auto values = file.read_tensor(name).to_vector<int64_t>();
  if (values.size() != expected)
    throw DataError(fmt::format("[babi] {}: {} has {} entries, expected {}", file.path().string(), name, values.size(),
                                expected));
  return values;
}

}  // namespace

void write_babi_dataset(const std::filesystem::path& path, const BabiDataset& dataset) {
  dataset.validate(path.string());
  h5::File file = h5::File::create(path);
  file.set_attribute("/", "format", kFormat);
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "task", static_cast<int64_t>(dataset.task));
  file.set_attribute("/", "seed", static_cast<int64_t>(dataset.seed));
  file.set_attribute("/", "source", dataset.source);
  std::vector<const BabiSentence*> statements;
  std::vector<int64_t> story_offsets{0};
  for (const auto& story : dataset.stories) {
    for (const BabiSentence& s : story) statements.push_back(&s);
    story_offsets.push_back(static_cast<int64_t>(statements.size()));
  }
  write_sentences(file, "statements", statements);
  file.write_tensor("story_offsets", int_tensor(story_offsets));
  std::vector<const BabiSentence*> words;
  std::vector<int64_t> story, context, answer, supporting;
  for (const BabiQuestion& q : dataset.questions) {
    words.push_back(&q.words);
    story.push_back(q.story), context.push_back(q.context), answer.push_back(q.answer);
    for (int64_t k = 0; k < kBabiMaxSupport; ++k)
      supporting.push_back(k < static_cast<int64_t>(q.supporting.size()) ? q.supporting[static_cast<size_t>(k)] : -1);
  }
  write_sentences(file, "questions", words);
  file.write_tensor("questions/story", int_tensor(story));
  file.write_tensor("questions/context", int_tensor(context));
  file.write_tensor("questions/answer", int_tensor(answer));
  file.write_tensor("questions/supporting",
                    Tensor::from(supporting, {static_cast<int64_t>(dataset.questions.size()), kBabiMaxSupport}));
  for (int s = 0; s < 3; ++s)
    file.write_tensor(std::string("splits/") + split_name(static_cast<Split>(s)),
                      int_tensor(dataset.splits[static_cast<size_t>(s)]));
  write_strings(file, "vocabulary", babi_vocabulary());
  file.close();
}

BabiDataset read_babi_dataset(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw DataError(fmt::format("[babi] '{}' does not exist (make it with `attnscale prepare babi`)", path.string()));
  BabiDataset dataset;
  try {
    const h5::File file = h5::File::open_read(path);
    if (!file.exists("story_offsets") || file.string_attribute("/", "format") != kFormat)
      throw DataError(fmt::format("[babi] '{}' is not an attnscale bAbI data set", path.string()));
    const int64_t version = file.int_attribute("/", "version");
    if (version != kVersion)
      throw DataError(fmt::format("[babi] '{}' has format version {}, this build reads {}", path.string(), version,
                                  kVersion));
    const int64_t task = file.int_attribute("/", "task");
    if (task < 1 || task > 3)
      throw DataError(fmt::format("[babi] '{}': attribute task is {}, not 1, 2 or 3", path.string(), task));
    dataset.task = static_cast<BabiTask>(task);
    dataset.seed = static_cast<uint64_t>(file.int_attribute("/", "seed"));
    dataset.source = file.string_attribute("/", "source");
    if (read_strings(file, "vocabulary") != babi_vocabulary())
      throw DataError(fmt::format("[babi] '{}': its vocabulary differs from this build's bAbI vocabulary (prepare it "
                                  "again with this build)",
                                  path.string()));
    const auto statements = read_sentences(file, "statements");
    const auto story_offsets = file.read_tensor("story_offsets").to_vector<int64_t>();
    if (story_offsets.empty() || story_offsets.front() != 0 ||
        story_offsets.back() != static_cast<int64_t>(statements.size()))
      throw DataError(fmt::format("[babi] '{}': story_offsets must run from 0 to {} (the statements)", path.string(),
                                  statements.size()));
    for (size_t n = 0; n + 1 < story_offsets.size(); ++n) {
      if (story_offsets[n + 1] < story_offsets[n])
        throw DataError(fmt::format("[babi] '{}': story_offsets decrease at index {}", path.string(), n));
      dataset.stories.emplace_back(statements.begin() + story_offsets[n], statements.begin() + story_offsets[n + 1]);
    }
    auto words = read_sentences(file, "questions");
    const auto story = read_ints(file, "questions/story", words.size());
    const auto context = read_ints(file, "questions/context", words.size());
    const auto answer = read_ints(file, "questions/answer", words.size());
    const auto supporting = read_ints(file, "questions/supporting", words.size() * kBabiMaxSupport);
    for (size_t q = 0; q < words.size(); ++q) {
      BabiQuestion question{story[q], context[q], std::move(words[q]), answer[q], {}};
      for (size_t k = 0; k < static_cast<size_t>(kBabiMaxSupport); ++k)
        if (const int64_t fact = supporting[q * kBabiMaxSupport + k]; fact >= 0) question.supporting.push_back(fact);
      dataset.questions.push_back(std::move(question));
    }
    for (int s = 0; s < 3; ++s)
      dataset.splits[static_cast<size_t>(s)] =
          file.read_tensor(std::string("splits/") + split_name(static_cast<Split>(s))).to_vector<int64_t>();
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[babi] '{}' cannot be read: {}", path.string(), e.what()));
  }
  dataset.validate(path.string());
  return dataset;
}

}  // namespace attnscale::data

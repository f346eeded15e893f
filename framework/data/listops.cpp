#include "framework/data/listops.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/data/counter_draws.h"
#include "framework/io/hdf5.h"

namespace attnscale::data {
namespace {

constexpr const char* kFormat = "attnscale-listops";
constexpr int64_t kVersion = 1;
constexpr const char* kTag = "[listops]";
constexpr std::array<int64_t, 4> kOperators = {kListOpsMin, kListOpsMax, kListOpsMed, kListOpsSumMod};

int64_t apply(int64_t op, std::vector<int64_t> args) {
  switch (op) {
    case kListOpsMin: return *std::min_element(args.begin(), args.end());
    case kListOpsMax: return *std::max_element(args.begin(), args.end());
    case kListOpsSumMod: return std::accumulate(args.begin(), args.end(), int64_t{0}) % 10;
    default: {  // median, the mean of the middle two rounded down for an even count (LRA: int(np.median))
      std::sort(args.begin(), args.end());
      const size_t n = args.size();
      return n % 2 ? args[n / 2] : (args[n / 2 - 1] + args[n / 2]) / 2;
    }
  }
}

// One attempt at a tree: appends its tokens to `out` and returns its value, or -1 as soon as the
// tokens pass max_length (the attempt is rejected anyway, and a supercritical tree can be huge).
int64_t grow(const ListOpsOptions& o, CounterDraws& draws, int64_t depth, std::vector<int64_t>& out) {
  if (static_cast<int64_t>(out.size()) >= o.max_length) return -1;
  constexpr int64_t kResolution = int64_t{1} << 24;  // the generator's uniform draws have 24 bits
  const bool is_operator =
      depth < o.max_depth && static_cast<double>(draws.below(kResolution)) / kResolution < o.value_p;
  if (!is_operator) {
    const int64_t digit = draws.below(10);
    out.push_back(kListOpsDigit0 + digit);
    return digit;
  }
  const int64_t op = kOperators[draws.below(4)];
  const int64_t n_args = 2 + draws.below(o.max_args - 1);
  out.push_back(op);
  std::vector<int64_t> values;
  for (int64_t i = 0; i < n_args; ++i) {
    const int64_t v = grow(o, draws, depth + 1, out);
    if (v < 0) return -1;
    values.push_back(v);
  }
  out.push_back(kListOpsClose);
  return apply(op, std::move(values));
}

std::string vocabulary_text() {
  std::string text;
  for (const auto& word : listops_vocabulary()) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::string rules_text(const ListOpsOptions& o) {
  return fmt::format("ListOps (Nangia & Bowman 2018) by the Long Range Arena rules: operators MIN MAX MED SM over "
                     "digits 0-9; a node at depth < {} is an operator with probability {} ({} to {} arguments), else a "
                     "digit; root depth 1; lengths {}..{} tokens (redrawn otherwise); no parenthesis tokens",
                     o.max_depth, o.value_p, 2, o.max_args, o.min_length, o.max_length);
}

Tensor int_tensor(const std::vector<int64_t>& values) {
  return Tensor::from(values, {static_cast<int64_t>(values.size())});
}

void check_split(const ListOpsSplit& s, const std::string& where) {
  if (s.offsets.empty() || s.offsets.front() != 0 || s.offsets.back() != static_cast<int64_t>(s.tokens.size()))
    throw DataError(fmt::format("{} {}: offsets must run from 0 to {}", kTag, where, s.tokens.size()));
  if (static_cast<int64_t>(s.offsets.size()) != s.size() + 1)
    throw DataError(fmt::format("{} {}: {} offsets for {} labels", kTag, where, s.offsets.size(), s.labels.size()));
  for (size_t e = 0; e + 1 < s.offsets.size(); ++e)
    if (s.offsets[e + 1] <= s.offsets[e])
      throw DataError(fmt::format("{} {}: example {} is empty or its offsets decrease", kTag, where, e));
  for (size_t i = 0; i < s.tokens.size(); ++i)
    if (s.tokens[i] <= kListOpsPad || s.tokens[i] >= kListOpsVocabSize)
      throw DataError(fmt::format("{} {}: token {} has id {}, outside 1..{}", kTag, where, i, s.tokens[i],
                                  kListOpsVocabSize - 1));
  for (size_t e = 0; e < s.labels.size(); ++e)
    if (s.labels[e] < 0 || s.labels[e] >= kListOpsClasses)
      throw DataError(fmt::format("{} {}: example {} has label {}, outside 0..9", kTag, where, e, s.labels[e]));
}

}  // namespace

const std::vector<std::string>& listops_vocabulary() {
  static const std::vector<std::string> words = {"<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8",
                                                 "9", "[MIN", "[MAX", "[MED", "[SM", "]"};
  return words;
}

int64_t ListOpsSplit::longest() const {
  int64_t longest = 0;
  for (size_t e = 0; e + 1 < offsets.size(); ++e) longest = std::max(longest, offsets[e + 1] - offsets[e]);
  return longest;
}

void ListOpsOptions::validate() const {
  for (int s = 0; s < 3; ++s)
    if (sizes[s] < 0)
      throw ConfigError(fmt::format("{} --{}: {} examples; must be >= 0", kTag,
                                    std::array{"train", "validation", "test"}[s], sizes[s]));
  if (max_depth < 1) throw ConfigError(fmt::format("{} --max-depth: {}; must be >= 1", kTag, max_depth));
  if (max_args < 2) throw ConfigError(fmt::format("{} --max-args: {}; must be >= 2", kTag, max_args));
  if (!(value_p > 0 && value_p < 1))
    throw ConfigError(fmt::format("{} --value-p: {}; must be in (0, 1)", kTag, value_p));
  if (min_length < 1 || max_length < min_length)
    throw ConfigError(fmt::format("{} --min-length {} --max-length {}: need 1 <= min-length <= max-length", kTag,
                                  min_length, max_length));
  if (min_length > 1 && max_depth == 1)
    throw ConfigError(fmt::format("{} --max-depth 1 makes every expression one digit; --min-length {} is unreachable",
                                  kTag, min_length));
}

ListOpsExample generate_listops_example(const ListOpsOptions& o, Split split, int64_t index) {
  CounterDraws draws(o.seed, (static_cast<uint64_t>(split) << 40) + static_cast<uint64_t>(index));
  ListOpsExample ex;
  for (;;) {
    ex.tokens.clear();
    ex.label = grow(o, draws, 1, ex.tokens);
    const auto n = static_cast<int64_t>(ex.tokens.size());
    if (ex.label >= 0 && n >= o.min_length && n <= o.max_length) return ex;
  }
}

ListOpsData generate_listops(const ListOpsOptions& options) {
  options.validate();
  ListOpsData data{options, {}};
  for (int s = 0; s < 3; ++s) {
    ListOpsSplit& split = data.splits[s];
    for (int64_t i = 0; i < options.sizes[s]; ++i) {
      const ListOpsExample ex = generate_listops_example(options, static_cast<Split>(s), i);
      split.tokens.insert(split.tokens.end(), ex.tokens.begin(), ex.tokens.end());
      split.offsets.push_back(static_cast<int64_t>(split.tokens.size()));
      split.labels.push_back(ex.label);
    }
  }
  return data;
}

void write_listops(const std::filesystem::path& path, const ListOpsData& data) {
  const ListOpsOptions& o = data.options;
  h5::File file = h5::File::create(path);
  file.set_attribute("/", "format", kFormat);
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "vocabulary", vocabulary_text());
  file.set_attribute("/", "rules", rules_text(o));
  file.set_attribute("/", "seed", static_cast<int64_t>(o.seed));
  file.set_attribute("/", "max_depth", o.max_depth);
  file.set_attribute("/", "max_args", o.max_args);
  file.set_attribute("/", "value_p", fmt::format("{}", o.value_p));
  file.set_attribute("/", "min_length", o.min_length);
  file.set_attribute("/", "max_length", o.max_length);
  for (int s = 0; s < 3; ++s) {
    const std::string group = split_name(static_cast<Split>(s));
    file.write_tensor(group + "/tokens", int_tensor(data.splits[s].tokens));
    file.write_tensor(group + "/offsets", int_tensor(data.splits[s].offsets));
    file.write_tensor(group + "/labels", int_tensor(data.splits[s].labels));
  }
  file.close();
}

ListOpsData read_listops(const std::filesystem::path& path) {
  const std::string where = path.string();
  if (!std::filesystem::exists(path))
    throw DataError(fmt::format("{} '{}' does not exist (make it with `attnscale prepare listops`)", kTag, where));
  ListOpsData data;
  try {
    const h5::File file = h5::File::open_read(path);
    if (!file.has_attribute("/", "format") || file.string_attribute("/", "format") != kFormat)
      throw DataError(fmt::format("{} '{}' is not an attnscale ListOps file", kTag, where));
    if (const int64_t version = file.int_attribute("/", "version"); version != kVersion)
      throw DataError(fmt::format("{} '{}' has format version {}, this build reads {}", kTag, where, version, kVersion));
    if (file.string_attribute("/", "vocabulary") != vocabulary_text())
      throw DataError(fmt::format("{} '{}' has another vocabulary than this build's", kTag, where));
    ListOpsOptions& o = data.options;
    o.seed = static_cast<uint64_t>(file.int_attribute("/", "seed"));
    o.max_depth = file.int_attribute("/", "max_depth");
    o.max_args = file.int_attribute("/", "max_args");
    o.value_p = std::stod(file.string_attribute("/", "value_p"));
    o.min_length = file.int_attribute("/", "min_length");
    o.max_length = file.int_attribute("/", "max_length");
    for (int s = 0; s < 3; ++s) {
      const std::string group = split_name(static_cast<Split>(s));
      ListOpsSplit& split = data.splits[s];
      split.tokens = file.read_tensor(group + "/tokens").to_vector<int64_t>();
      split.offsets = file.read_tensor(group + "/offsets").to_vector<int64_t>();
      split.labels = file.read_tensor(group + "/labels").to_vector<int64_t>();
      o.sizes[s] = split.size();
      check_split(split, fmt::format("'{}' {}", where, group));
    }
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("{} '{}': {}", kTag, where, e.what()));
  }
  return data;
}

ListOpsBatches::ListOpsBatches(ListOpsData data, int64_t seq_len, int64_t batch_size, bool pack)
    : data_(std::move(data)), seq_len_(seq_len), batch_size_(batch_size), pack_(pack) {
  for (int s = 0; s < 3; ++s) {
    const int64_t longest = data_.splits[s].longest();
    if (longest > seq_len_)
      throw ConfigError(fmt::format("[config] data.seq_len: {} tokens, but the longest ListOps example of the {} split "
                                    "has {} (prepare the file with --max-length {} or raise data.seq_len)",
                                    seq_len_, split_name(static_cast<Split>(s)), longest, seq_len_));
  }
  const ListOpsSplit& train = data_.split(Split::train);
  if (train.size() == 0) throw DataError(fmt::format("{} the file has no training examples", kTag));
  if (pack_) {
    const double mean = static_cast<double>(train.tokens.size()) / static_cast<double>(train.size());
    examples_per_row_ = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(seq_len_) / mean));
  }
}

TokenBatch ListOpsBatches::rows(const ListOpsSplit& split, int64_t first_row, bool wrap) const {
  std::vector<int64_t> inputs(batch_size_ * seq_len_, kListOpsPad), targets(batch_size_ * seq_len_, kIgnoreIndex);
  for (int64_t r = 0; r < batch_size_; ++r) {
    int64_t example = (first_row + r) * examples_per_row_;
    if (!wrap && example >= split.size()) continue;
    int64_t used = 0;
    for (;;) {
      const auto tokens = split.example(example % split.size());
      const auto n = static_cast<int64_t>(tokens.size());
      if (used + n > seq_len_) break;
      std::copy(tokens.begin(), tokens.end(), inputs.begin() + r * seq_len_ + used);
      used += n;
      targets[r * seq_len_ + used - 1] = kListOpsDigit0 + split.labels[example % split.size()];
      ++example;
      if (!pack_ || (!wrap && example >= split.size())) break;
    }
  }
  return {Tensor::from(inputs, {batch_size_, seq_len_}), Tensor::from(targets, {batch_size_, seq_len_})};
}

TokenBatch ListOpsBatches::train_batch(int64_t index) const {
  return rows(data_.split(Split::train), index * batch_size_, true);
}

TokenBatch ListOpsBatches::eval_batch(Split split, int64_t index) const {
  return rows(data_.split(split), index * batch_size_, false);
}

}  // namespace attnscale::data

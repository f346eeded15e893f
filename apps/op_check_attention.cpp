#include "apps/op_check_attention.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "base/text.h"

namespace attnscale::app {
namespace {

std::string shape_text(const std::vector<int64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

void expect_shape(const OpCheckFile& in, const std::string& name, const std::vector<int64_t>& got,
                  const std::vector<int64_t>& want, const char* meaning) {
  if (got != want)
    bad_file(in, fmt::format("dataset '{}' has shape {}, expected {} = {}", name, shape_text(got),
                             meaning, shape_text(want)));
}

int64_t integer_attribute(const OpCheckFile& in, const std::string& name, int64_t fallback,
                          bool required = false) {
  const auto value = in.number_attribute(name);
  if (!value) {
    if (required) bad_file(in, fmt::format("missing attribute '{}'", name));
    return fallback;
  }
  if (!std::isfinite(*value) || *value != std::floor(*value))
    bad_file(in, fmt::format("attribute '{}' must be an integer, got {}", name, *value));
  return static_cast<int64_t>(*value);
}

// q, k, v and dout must be finite: a NaN or Inf would come out as a fully masked row (out 0, lse
// -inf) or spread silently, and mislead a comparison with the user's reference.
template <typename T>
void require_finite(const OpCheckFile& in, const std::string& name, const h5::Array<T>& array) {
  const auto bad = std::find_if(array.data.begin(), array.data.end(), [](T x) { return !std::isfinite(x); });
  if (bad == array.data.end()) return;
  // The row-major flat offset as an index per dimension.
  std::vector<int64_t> index(array.dims.size());
  int64_t offset = bad - array.data.begin();
  for (size_t axis = array.dims.size(); axis-- > 0;) {
    index[axis] = offset % array.dims[axis];
    offset /= array.dims[axis];
  }
  bad_file(in, fmt::format("dataset '{}' holds a non-finite value: {}{} = {} (op-check needs finite q, k, v and dout)",
                           name, name, shape_text(index), static_cast<double>(*bad)));
}

// Reads an optional int32 dataset of shape [B, len]; empty when absent.
std::vector<int32_t> optional_ids(const OpCheckFile& in, const std::string& name, int64_t batch,
                                  int64_t len, const char* meaning) {
  if (!in.has_dataset(name)) return {};
  auto ids = in.read<int32_t>(name);
  expect_shape(in, name, ids.dims, {batch, len}, meaning);
  return std::move(ids.data);
}

h5::File open_input(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(fmt::format("[op-check] {}: no such file", path));
  if (!h5::File::is_hdf5(path)) throw DataError(fmt::format("[op-check] {}: not an HDF5 file", path));
  try {
    return h5::File::open_read(path);
  } catch (const h5::Error& e) {
    throw DataError(fmt::format("[op-check] {}: cannot open the HDF5 file ({})", path, e.what()));
  }
}

}  // namespace

OpCheckFile::OpCheckFile(const std::string& path) : path_(path), file_(open_input(path)) {}

h5::StoredType OpCheckFile::stored_type(const std::string& name) const {
  try {
    return file_.stored_type(name);
  } catch (const h5::Error& e) {
    bad_file(*this, fmt::format("dataset '{}': {}", name, e.what()));
  }
}

template <typename T>
h5::Array<T> OpCheckFile::read(const std::string& name) const {
  if (!has_dataset(name)) bad_file(*this, fmt::format("missing dataset '{}'", name));
  const h5::ValueClass want = std::is_same_v<T, int32_t> ? h5::ValueClass::integer : h5::ValueClass::floating;
  if (stored_type(name).value_class != want)
    bad_file(*this, fmt::format("dataset '{}' must hold {} values", name,
                                want == h5::ValueClass::integer ? "integer" : "floating-point"));
  try {
    return file_.read_array<T>(name);
  } catch (const h5::Error& e) {
    bad_file(*this, fmt::format("dataset '{}': {}", name, e.what()));
  }
}

std::optional<std::string> OpCheckFile::string_attribute(const std::string& name) const {
  if (!file_.has_attribute("/", name)) return std::nullopt;
  try {
    return file_.string_attribute("/", name);
  } catch (const h5::Error& e) {
    bad_file(*this, fmt::format("attribute '{}' must be a string ({})", name, e.what()));
  }
}

std::optional<double> OpCheckFile::number_attribute(const std::string& name) const {
  if (!file_.has_attribute("/", name)) return std::nullopt;
  try {
    return file_.number_attribute("/", name);
  } catch (const h5::Error& e) {
    bad_file(*this, fmt::format("attribute '{}' must be a single number ({})", name, e.what()));
  }
}

template h5::Array<float> OpCheckFile::read<float>(const std::string&) const;
template h5::Array<double> OpCheckFile::read<double>(const std::string&) const;
template h5::Array<int32_t> OpCheckFile::read<int32_t>(const std::string&) const;

void bad_file(const OpCheckFile& in, const std::string& message) {
  throw DataError(fmt::format("[op-check] {}: {}", in.path(), message));
}

size_t attention_precision(const OpCheckFile& in) {
  if (!in.has_dataset("q")) bad_file(in, "missing dataset 'q'");
  const h5::StoredType q = in.stored_type("q");
  if (q.value_class != h5::ValueClass::floating || (q.element_size != 4 && q.element_size != 8))
    bad_file(in, "dataset 'q' must hold float32 or float64 values");
  return q.element_size;
}

template <typename T>
std::unique_ptr<AttentionInput<T>> read_attention_input(const OpCheckFile& in) {
  auto input = std::make_unique<AttentionInput<T>>();
  AttentionInput<T>& a = *input;
  a.q = in.read<T>("q");
  a.k = in.read<T>("k");
  a.v = in.read<T>("v");
  if (a.q.dims.size() != 4) bad_file(in, fmt::format("dataset 'q' must be [B, Hq, N, D], got {}", shape_text(a.q.dims)));
  if (a.k.dims.size() != 4) bad_file(in, fmt::format("dataset 'k' must be [B, Hkv, M, D], got {}", shape_text(a.k.dims)));
  if (a.v.dims.size() != 4) bad_file(in, fmt::format("dataset 'v' must be [B, Hkv, M, Dv], got {}", shape_text(a.v.dims)));
  const kernels::AttentionShape s{a.q.dims[0], a.q.dims[1], a.k.dims[1], a.q.dims[2], a.k.dims[2], a.q.dims[3], a.v.dims[3]};
  expect_shape(in, "k", a.k.dims, {s.batch, s.kv_heads, s.k_len, s.head_dim}, "[B, Hkv, M, D]");
  expect_shape(in, "v", a.v.dims, {s.batch, s.kv_heads, s.k_len, s.value_dim}, "[B, Hkv, M, Dv]");
  if (s.head_dim < 1 || s.value_dim < 1) bad_file(in, "D and Dv must be at least 1");
  if (s.kv_heads < 1 || s.q_heads % s.kv_heads != 0)
    bad_file(in, fmt::format("q heads ({}) must be a multiple of k/v heads ({})", s.q_heads, s.kv_heads));
  if (in.has_dataset("dout")) {
    a.dout = in.read<T>("dout");
    expect_shape(in, "dout", a.dout->dims, {s.batch, s.q_heads, s.q_len, s.value_dim}, "[B, Hq, N, Dv]");
  }
  require_finite(in, "q", a.q);
  require_finite(in, "k", a.k);
  require_finite(in, "v", a.v);
  if (a.dout) require_finite(in, "dout", *a.dout);

  a.q_offset = integer_attribute(in, "q_offset", 0);
  kernels::AttentionParams& params = a.params;
  params = kernels::default_attention_params(s, a.q_offset);
  if (const auto scale = in.number_attribute("scale")) {
    if (!std::isfinite(*scale) || *scale <= 0)
      bad_file(in, fmt::format("attribute 'scale' must be finite and > 0, got {}", *scale));
    params.scale = *scale;
  }
  a.normalizer = in.string_attribute("normalizer").value_or("softmax");
  if (a.normalizer != "softmax" && a.normalizer != "sparsemax")
    bad_file(in, fmt::format("unknown normalizer '{}' (expected softmax or sparsemax)", excerpt(a.normalizer)));

  a.mask = in.string_attribute("mask").value_or("none");
  if (a.mask == "causal") {
    params.mask.causal = true;
  } else if (a.mask == "window") {
    const int64_t left = integer_attribute(in, "window_left", 0, true);
    const int64_t right = integer_attribute(in, "window_right", 0, true);
    if (left < 0 || right < 0)
      bad_file(in, fmt::format("window_left ({}) and window_right ({}) must be >= 0", left, right));
    params.mask.window = kernels::Window{left, right};
  } else if (a.mask == "block_sparse") {
    const int64_t bs = integer_attribute(in, "block_size", 0, true);
    if (bs < 1) bad_file(in, fmt::format("attribute 'block_size' must be >= 1, got {}", bs));
    auto layout = in.read<int32_t>("block_layout");
    const int64_t rows = (s.q_len + bs - 1) / bs, cols = (s.k_len + bs - 1) / bs;
    expect_shape(in, "block_layout", layout.dims, {rows, cols}, "[ceil(N/bs), ceil(M/bs)]");
    std::vector<uint8_t> allowed(layout.data.size());
    for (size_t x = 0; x < allowed.size(); ++x) allowed[x] = layout.data[x] != 0;
    // Rows count query blocks from query 0, whose global position is q_offset.
    params.mask.blocks =
        std::make_shared<kernels::BlockPattern>(bs, rows, cols, std::move(allowed), a.q_offset, 0);
  } else if (a.mask != "none") {
    bad_file(in, fmt::format("unknown mask '{}' (expected none, causal, window or block_sparse)", excerpt(a.mask)));
  }
  a.q_segment = optional_ids(in, "q_segment", s.batch, s.q_len, "[B, N]");
  a.k_segment = optional_ids(in, "k_segment", s.batch, s.k_len, "[B, M]");
  a.k_valid = optional_ids(in, "k_valid", s.batch, s.k_len, "[B, M]");
  if (a.q_segment.empty() != a.k_segment.empty())
    bad_file(in, "give both 'q_segment' and 'k_segment' or neither");
  params.mask.q_segment = a.q_segment;
  params.mask.k_segment = a.k_segment;
  params.mask.k_valid = a.k_valid;
  return input;
}

template <typename T>
void write_attention_output(const AttentionInput<T>& input, const AttentionOutput<T>& result,
                            const std::string& output, const std::string& how) {
  const kernels::AttentionShape& s = input.shape();
  h5::File file = h5::File::create(output);
  file.set_attribute("/", "attnscale_version", ATTNSCALE_VERSION);
  file.write_array<T>("out", std::vector<int64_t>{s.batch, s.q_heads, s.q_len, s.value_dim}, result.out);
  if (input.softmax()) file.write_array<T>("lse", std::vector<int64_t>{s.batch, s.q_heads, s.q_len}, result.lse);
  if (input.dout) {
    file.write_array<T>("dq", input.q.dims, result.dq);
    file.write_array<T>("dk", input.k.dims, result.dk);
    file.write_array<T>("dv", input.v.dims, result.dv);
  }
  file.close();
  fmt::print("op-check attention: B={} Hq={} Hkv={} N={} M={} D={} Dv={} mask={} normalizer={} "
             "{}{}: wrote {}{}\n",
             s.batch, s.q_heads, s.kv_heads, s.q_len, s.k_len, s.head_dim, s.value_dim, input.mask,
             input.normalizer, sizeof(T) == 4 ? "float32" : "float64", how, output,
             input.dout ? " (out, lse, dq, dk, dv)" : input.softmax() ? " (out, lse)" : " (out)");
}

template std::unique_ptr<AttentionInput<float>> read_attention_input<float>(const OpCheckFile&);
template std::unique_ptr<AttentionInput<double>> read_attention_input<double>(const OpCheckFile&);
template void write_attention_output<float>(const AttentionInput<float>&, const AttentionOutput<float>&,
                                            const std::string&, const std::string&);
template void write_attention_output<double>(const AttentionInput<double>&, const AttentionOutput<double>&,
                                             const std::string&, const std::string&);

}  // namespace attnscale::app

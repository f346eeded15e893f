// `attnscale op-check attention --input IN.h5 --output OUT.h5`: runs the attention kernels on
// tensors from an HDF5 file and writes the outputs, so that users can compare attnscale with
// their own reference. The file format is documented in kernels/README.md ("op-check").
// Bad input files are DataErrors (exit code 3) with a message naming the file and the problem.
#include <CLI/CLI.hpp>
#include <fmt/ranges.h>

#include <cmath>
#include <memory>
#include <string>

#include "apps/commands.h"
#include "apps/op_check_h5.h"
#include "kernels/attention.h"
#include "kernels/general_attention.h"

namespace attnscale::app {
namespace {

using kernels::AttentionShape;

[[noreturn]] void bad_file(const H5Reader& in, const std::string& message) {
  throw DataError(fmt::format("[op-check] {}: {}", in.path(), message));
}

std::string shape_text(const std::vector<int64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

void expect_shape(const H5Reader& in, const std::string& name, const std::vector<int64_t>& got,
                  const std::vector<int64_t>& want, const char* meaning) {
  if (got != want)
    bad_file(in, fmt::format("dataset '{}' has shape {}, expected {} = {}", name, shape_text(got),
                             meaning, shape_text(want)));
}

int64_t integer_attribute(const H5Reader& in, const std::string& name, int64_t fallback,
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

// Reads an optional int32 dataset of shape [B, len]; empty when absent.
std::vector<int32_t> optional_ids(const H5Reader& in, const std::string& name, int64_t batch,
                                  int64_t len, const char* meaning) {
  if (!in.has_dataset(name)) return {};
  auto ids = in.read<int32_t>(name);
  expect_shape(in, name, ids.dims, {batch, len}, meaning);
  return std::move(ids.data);
}

template <typename T>
void run_attention(const H5Reader& in, const std::string& output) {
  const auto q = in.read<T>("q");
  const auto k = in.read<T>("k");
  const auto v = in.read<T>("v");
  if (q.dims.size() != 4) bad_file(in, fmt::format("dataset 'q' must be [B, Hq, N, D], got {}", shape_text(q.dims)));
  if (k.dims.size() != 4) bad_file(in, fmt::format("dataset 'k' must be [B, Hkv, M, D], got {}", shape_text(k.dims)));
  if (v.dims.size() != 4) bad_file(in, fmt::format("dataset 'v' must be [B, Hkv, M, Dv], got {}", shape_text(v.dims)));
  AttentionShape s{q.dims[0], q.dims[1], k.dims[1], q.dims[2], k.dims[2], q.dims[3], v.dims[3]};
  expect_shape(in, "k", k.dims, {s.batch, s.kv_heads, s.k_len, s.head_dim}, "[B, Hkv, M, D]");
  expect_shape(in, "v", v.dims, {s.batch, s.kv_heads, s.k_len, s.value_dim}, "[B, Hkv, M, Dv]");
  if (s.head_dim < 1 || s.value_dim < 1) bad_file(in, "D and Dv must be at least 1");
  if (s.kv_heads < 1 || s.q_heads % s.kv_heads != 0)
    bad_file(in, fmt::format("q heads ({}) must be a multiple of k/v heads ({})", s.q_heads,
                             s.kv_heads));
  std::optional<H5Array<T>> dout;
  if (in.has_dataset("dout")) {
    dout = in.read<T>("dout");
    expect_shape(in, "dout", dout->dims, {s.batch, s.q_heads, s.q_len, s.value_dim},
                 "[B, Hq, N, Dv]");
  }

  const int64_t q_offset = integer_attribute(in, "q_offset", 0);
  kernels::AttentionParams params = kernels::default_attention_params(s, q_offset);
  if (const auto scale = in.number_attribute("scale")) {
    if (!std::isfinite(*scale) || *scale <= 0)
      bad_file(in, fmt::format("attribute 'scale' must be finite and > 0, got {}", *scale));
    params.scale = *scale;
  }
  const std::string normalizer = in.string_attribute("normalizer").value_or("softmax");
  if (normalizer != "softmax" && normalizer != "sparsemax")
    bad_file(in, fmt::format("unknown normalizer '{}' (expected softmax or sparsemax)", normalizer));

  const std::string mask = in.string_attribute("mask").value_or("none");
  if (mask == "causal") {
    params.mask.causal = true;
  } else if (mask == "window") {
    const int64_t left = integer_attribute(in, "window_left", 0, true);
    const int64_t right = integer_attribute(in, "window_right", 0, true);
    if (left < 0 || right < 0)
      bad_file(in, fmt::format("window_left ({}) and window_right ({}) must be >= 0", left, right));
    params.mask.window = kernels::Window{left, right};
  } else if (mask == "block_sparse") {
    const int64_t bs = integer_attribute(in, "block_size", 0, true);
    if (bs < 1) bad_file(in, fmt::format("attribute 'block_size' must be >= 1, got {}", bs));
    auto layout = in.read<int32_t>("block_layout");
    const int64_t rows = (s.q_len + bs - 1) / bs, cols = (s.k_len + bs - 1) / bs;
    expect_shape(in, "block_layout", layout.dims, {rows, cols}, "[ceil(N/bs), ceil(M/bs)]");
    std::vector<uint8_t> allowed(layout.data.size());
    for (size_t x = 0; x < allowed.size(); ++x) allowed[x] = layout.data[x] != 0;
    // Rows count query blocks from query 0, whose global position is q_offset.
    params.mask.blocks =
        std::make_shared<kernels::BlockPattern>(bs, rows, cols, std::move(allowed), q_offset, 0);
  } else if (mask != "none") {
    bad_file(in, fmt::format("unknown mask '{}' (expected none, causal, window or block_sparse)", mask));
  }
  const auto q_segment = optional_ids(in, "q_segment", s.batch, s.q_len, "[B, N]");
  const auto k_segment = optional_ids(in, "k_segment", s.batch, s.k_len, "[B, M]");
  const auto k_valid = optional_ids(in, "k_valid", s.batch, s.k_len, "[B, M]");
  if (q_segment.empty() != k_segment.empty())
    bad_file(in, "give both 'q_segment' and 'k_segment' or neither");
  params.mask.q_segment = q_segment;
  params.mask.k_segment = k_segment;
  params.mask.k_valid = k_valid;

  std::vector<T> out(s.out_size()), lse, dq, dk, dv;
  const bool softmax = normalizer == "softmax";
  const kernels::DotScore<T> dot(s.head_dim, params.scale);
  if (softmax) {
    lse.resize(s.rows());
    kernels::attention_forward<T>(params, {q.data, k.data, v.data, out, lse});
  } else {
    kernels::general_attention_forward<T>(params, dot, kernels::Normalizer::sparsemax,
                                          {q.data, k.data, v.data, out, {}});
  }
  if (dout) {
    dq.resize(s.q_size());
    dk.resize(s.k_size());
    dv.resize(s.v_size());
    if (softmax) {
      std::vector<T> delta(s.rows());
      kernels::attention_delta<T>(dout->data, out, s.value_dim, delta);
      kernels::attention_backward<T>(params,
                                     {q.data, k.data, v.data, dout->data, lse, delta, dq, dk, dv});
    } else {
      kernels::general_attention_backward<T>(params, dot, kernels::Normalizer::sparsemax,
                                             {q.data, k.data, v.data, dout->data, {}, {}, dq, dk, dv},
                                             {});
    }
  }

  H5Writer writer(output);
  writer.string_attribute("attnscale_version", ATTNSCALE_VERSION);
  writer.write("out", {s.batch, s.q_heads, s.q_len, s.value_dim}, out);
  if (softmax) writer.write("lse", {s.batch, s.q_heads, s.q_len}, lse);
  if (dout) {
    writer.write("dq", q.dims, dq);
    writer.write("dk", k.dims, dk);
    writer.write("dv", v.dims, dv);
  }
  fmt::print("op-check attention: B={} Hq={} Hkv={} N={} M={} D={} Dv={} mask={} normalizer={} "
             "{}: wrote {}{}\n",
             s.batch, s.q_heads, s.kv_heads, s.q_len, s.k_len, s.head_dim, s.value_dim, mask,
             normalizer, sizeof(T) == 4 ? "float32" : "float64", output,
             dout ? " (out, lse, dq, dk, dv)" : softmax ? " (out, lse)" : " (out)");
}

void op_check_attention(const std::string& input, const std::string& output) {
  silence_hdf5_errors();
  const H5Reader in(input);
  if (!in.has_dataset("q")) bad_file(in, "missing dataset 'q'");
  if (in.dataset_class("q") != H5Class::floating)
    bad_file(in, "dataset 'q' must hold float32 or float64 values");
  try {
    switch (in.dataset_element_size("q")) {
      case 4: run_attention<float>(in, output); break;
      case 8: run_attention<double>(in, output); break;
      default: bad_file(in, "dataset 'q' must hold float32 or float64 values");
    }
  } catch (const UsageError& e) {
    // Every kernel argument comes from the file, so a rejected argument is a bad file.
    bad_file(in, e.what());
  }
}

}  // namespace

void add_op_check_command(CLI::App& app) {
  auto* op_check = app.add_subcommand(
      "op-check", "run a kernel on tensors from an HDF5 file, to compare with your reference");
  op_check->require_subcommand(1);
  auto* attention = op_check->add_subcommand(
      "attention", "attention forward (out, lse) and, when the file has dout, backward");
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  attention->add_option("--input", *input, "HDF5 file with q, k, v [, dout] (kernels/README.md)")
      ->required();
  attention->add_option("--output", *output, "HDF5 file to write out, lse [, dq, dk, dv] to")
      ->required();
  attention->callback([input, output] { op_check_attention(*input, *output); });
}

}  // namespace attnscale::app

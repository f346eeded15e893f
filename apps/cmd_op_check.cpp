// `attnscale op-check attention --input IN.h5 --output OUT.h5`: runs the attention kernels on
// tensors from an HDF5 file and writes the outputs, so that users can compare attnscale with
// their own reference. The file format is documented in kernels/README.md ("op-check").
// `mpirun -np P attnscale op-check attention ... --cp P --layout L --algo ring|ulysses|hybrid|halo|sparse-fetch|all-gather|auto`
// runs the same contract through context-parallel attention (apps/op_check_cp.cpp); rank 0 writes
// the gathered result.
// `--device cuda` runs the same contract on the CUDA kernels (apps/op_check_cuda.cpp); without a
// usable GPU it exits 2 saying so.
// Bad input files are DataErrors (exit code 3) with a message naming the file and the problem.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "apps/commands.h"
#include "apps/op_check_attention.h"
#include "distributed/parallel_algo.h"
#include "kernels/general_attention.h"

namespace attnscale::app {
namespace {

template <typename T>
void run_attention(const OpCheckFile& in, const std::string& output, bool on_gpu) {
  const auto input = read_attention_input<T>(in);
  if (on_gpu) {
    write_attention_output(*input, run_attention_cuda<T>(*input), output, " device=cuda:0");
    return;
  }
  const kernels::AttentionParams& params = input->params;
  const kernels::AttentionShape& s = input->shape();
  AttentionOutput<T> r;
  r.out.resize(s.out_size());
  const kernels::DotScore<T> dot(s.head_dim, params.scale);
  if (input->softmax()) {
    r.lse.resize(s.rows());
    kernels::attention_forward<T>(params, {input->q.data, input->k.data, input->v.data, r.out, r.lse});
  } else {
    kernels::general_attention_forward<T>(params, dot, kernels::Normalizer::sparsemax,
                                          {input->q.data, input->k.data, input->v.data, r.out, {}});
  }
  if (input->dout) {
    r.dq.resize(s.q_size());
    r.dk.resize(s.k_size());
    r.dv.resize(s.v_size());
    if (input->softmax()) {
      std::vector<T> delta(s.rows());
      kernels::attention_delta<T>(input->dout->data, r.out, s.value_dim, delta);
      kernels::attention_backward<T>(params, {input->q.data, input->k.data, input->v.data, input->dout->data,
                                              r.lse, delta, r.dq, r.dk, r.dv});
    } else {
      kernels::general_attention_backward<T>(
          params, dot, kernels::Normalizer::sparsemax,
          {input->q.data, input->k.data, input->v.data, input->dout->data, {}, {}, r.dq, r.dk, r.dv});
    }
  }
  write_attention_output(*input, r, output, "");
}

void op_check_attention(const std::string& input, const std::string& output,
                        const std::string& device) {
  // No GPU is a usage error (exit 2), found before the file is read.
  const bool on_gpu = device == "cuda";
  if (on_gpu) require_cuda_device();
  const OpCheckFile in(input);
  const size_t precision = attention_precision(in);
  try {
    if (precision == 4) run_attention<float>(in, output, on_gpu);
    else run_attention<double>(in, output, on_gpu);
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
  auto cp = std::make_shared<CpOptions>();
  auto device = std::make_shared<std::string>("cpu");
  attention->add_option("--input", *input, "HDF5 file with q, k, v [, dout] (kernels/README.md)")
      ->required();
  attention->add_option("--output", *output, "HDF5 file to write out, lse [, dq, dk, dv] to")
      ->required();
  auto* device_option =
      attention->add_option("--device", *device, "run the kernels on the cpu or on the GPU (cuda:0)")
          ->check(CLI::IsMember({"cpu", "cuda"}));
  auto* cp_option =
      attention->add_option("--cp", cp->cp, "run context-parallel over this many ranks (under mpirun -np CP; rank 0 writes)")
          ->check(CLI::PositiveNumber)
          ->excludes(device_option);
  attention->add_option("--layout", cp->layout, "with --cp: how the sequence is sharded")
      ->check(CLI::IsMember({"contiguous", "zigzag", "striped"}))
      ->needs(cp_option);
  attention->add_option("--algo", cp->algo,
                        "with --cp: ring, ulysses, hybrid, halo (window masks), sparse-fetch (block_sparse "
                        "masks), all-gather (any normalizer) or auto (the cheapest correct one for the file, printed)")
      ->check(CLI::IsMember(parallel_algo_flags()))
      ->needs(cp_option);
  attention->add_option("--ulysses", cp->ulysses, "with --algo hybrid: ranks per Ulysses group (divides --cp)")
      ->check(CLI::PositiveNumber)
      ->needs(cp_option);
  attention->callback([input, output, cp, device] {
    if (cp->cp == 0) {
      op_check_attention(*input, *output, *device);
      return;
    }
    const int code = op_check_attention_cp(*input, *output, *cp);
    if (code != 0) throw ExitStatus(code);
  });
}

}  // namespace attnscale::app

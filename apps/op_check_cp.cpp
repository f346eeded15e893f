// `mpirun -np P attnscale op-check attention --input IN.h5 --output OUT.h5 --cp P --layout L
//  --algo ring|ulysses|hybrid|halo|sparse-fetch|all-gather|auto [--ulysses U]`: the op-check
// contract run through context_parallel_attention (ring, ulysses, hybrid) or
// sequence_parallel_attention (halo, sparse-fetch, all-gather, auto: the choice and its reason are
// printed). Sparsemax files run with all-gather (or auto, which picks it). Every rank reads the whole file and takes its shard of the sequence
// by the layout; rank 0 gathers out, lse and the gradients back into sequence order and writes
// them, so the file compares one to one with a single-rank op-check or the user's reference.
//
// Failures that every rank sees alike (wrong rank count, bad file, heads that do not divide) are
// reported before any collective and each rank exits on its own; from then on run_job ends the
// whole job on a failure (distributed/comm/mpi_environment.h).
#include <cstdio>
#include <tuple>

#include "apps/op_check_attention.h"
#include "distributed/comm/mpi_communicator.h"
#include "distributed/comm/mpi_environment.h"
#include "distributed/comm/process_grid.h"
#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "distributed/context_parallel/sequence_shard.h"
#include "distributed/context_parallel/tensor_span.h"
#include "distributed/context_parallel/ulysses.h"
#include "distributed/parallel_algo.h"

namespace attnscale::app {
namespace {

using cp::values;

// What this file and these options must satisfy before any rank talks to another.
template <typename T>
void check_cp_input(const OpCheckFile& in, const AttentionInput<T>& input, const CpOptions& options, ParallelAlgo algo) {
  const kernels::AttentionShape& s = input.shape();
  if (s.q_len != s.k_len || input.q_offset != 0)
    bad_file(in, fmt::format("--cp shards one sequence: N ({}) must equal M ({}) and q_offset ({}) be 0", s.q_len,
                             s.k_len, input.q_offset));
  const int ulysses = algo == ParallelAlgo::ulysses ? options.cp : algo == ParallelAlgo::hybrid ? options.ulysses : 1;
  cp::split_heads(s.q_heads, s.kv_heads, ulysses);  // "[ulysses] heads (..) not divisible by .."
  const kernels::Layout layout(kernels::parse_layout_kind(options.layout.c_str()), s.q_len, options.cp);
  const auto need = algo_misfit(
      algo, algo_inputs(input.params.mask, layout, kernels::parse_normalizer(input.normalizer.c_str())));
  if (!need) return;
  switch (*need) {
    case AlgoNeed::window:
    case AlgoNeed::contiguous_layout:
      throw UsageError(fmt::format("[op-check] --algo {} needs the file's mask 'window' and --layout contiguous (got "
                                   "mask '{}', layout {}); --algo auto picks what fits",
                                   options.algo, input.mask, options.layout));
    case AlgoNeed::block_pattern:
      throw UsageError(fmt::format("[op-check] --algo {} needs the file's mask 'block_sparse' (got '{}'); --algo auto "
                                   "picks what fits",
                                   options.algo, input.mask));
    case AlgoNeed::softmax:
      throw UsageError(fmt::format("[op-check] --algo {} runs softmax attention only; normalizer 'sparsemax' needs "
                                   "--algo all-gather (or auto)",
                                   options.algo));
  }
}

template <typename T>
int run_cp(const AttentionInput<T>& input, const std::string& output, const CpOptions& options,
           ParallelAlgo requested) {
  MpiCommunicator world;
  ProcessGrid grid(world, GridShape{.dp = 1,
                                    .cp = options.cp,
                                    .ulysses = requested == ParallelAlgo::hybrid ? options.ulysses : 1});
  const kernels::AttentionShape& s = input.shape();
  const kernels::Layout layout(kernels::parse_layout_kind(options.layout.c_str()), s.q_len, options.cp);
  const kernels::Positions mine = layout.positions(grid.cp().rank());
  const int64_t n = mine.size(), len = s.q_len, bq = s.batch * s.q_heads, bkv = s.batch * s.kv_heads;
  const auto shard = [&](const std::vector<T>& global, int64_t outer, int64_t width, const Shape& shape) {
    return Tensor::from(cp::take_tokens<T>(global, outer, len, width, mine), shape);
  };
  const bool backward = input.dout.has_value();
  const Tensor q = shard(input.q.data, bq, s.head_dim, {s.batch, s.q_heads, n, s.head_dim}).set_requires_grad(backward);
  const Tensor k = shard(input.k.data, bkv, s.head_dim, {s.batch, s.kv_heads, n, s.head_dim}).set_requires_grad(backward);
  const Tensor v = shard(input.v.data, bkv, s.value_dim, {s.batch, s.kv_heads, n, s.value_dim}).set_requires_grad(backward);
  const auto shard_ids = [&](const std::vector<int32_t>& global) {
    return global.empty() ? global : cp::take_tokens<int32_t>(global, s.batch, len, 1, mine);
  };
  AttentionSpec spec;
  spec.scale = input.params.scale;
  spec.mask = input.params.mask;  // positional parts; the per-token ones travel as the shard's own
  spec.mask.q_segment = spec.mask.k_segment = spec.mask.k_valid = {};
  spec.q_segment = shard_ids(input.q_segment);
  spec.k_segment = shard_ids(input.k_segment);
  spec.k_valid = shard_ids(input.k_valid);

  std::string chosen;
  ParallelAlgo algo = requested;
  if (algo == ParallelAlgo::auto_) {
    const AlgoChoice choice = choose_algo(spec.mask, layout, kernels::parse_normalizer(input.normalizer.c_str()));
    algo = choice.algo;
    chosen = fmt::format(" chose={}", parallel_algo_flag(algo));
    if (world.rank() == 0) std::printf("--algo auto: %s (%s)\n", parallel_algo_flag(algo).c_str(), choice.reason.c_str());
  }
  const ContextParallelGroup group{&grid.cp(), &grid.ulysses(), &grid.ring(), algo, layout};
  Tensor out, lse;
  if (input.softmax())
    std::tie(out, lse) = sequence_parallel_attention_with_lse(q, k, v, spec, group);
  else
    out = sequence_parallel_attention(q, k, v, spec, group, kernels::Normalizer::sparsemax);
  if (backward) out.backward(shard(input.dout->data, bq, s.value_dim, {s.batch, s.q_heads, n, s.value_dim}));

  Communicator* cp_comm = &grid.cp();
  AttentionOutput<T> result;
  result.out = cp::gather_sequence<T>(cp_comm, layout, values<T>(out), bq, s.value_dim);
  if (lse.defined()) result.lse = cp::gather_sequence<T>(cp_comm, layout, values<T>(lse), bq, 1);
  if (backward) {
    result.dq = cp::gather_sequence<T>(cp_comm, layout, values<T>(q.grad()), bq, s.head_dim);
    result.dk = cp::gather_sequence<T>(cp_comm, layout, values<T>(k.grad()), bkv, s.head_dim);
    result.dv = cp::gather_sequence<T>(cp_comm, layout, values<T>(v.grad()), bkv, s.value_dim);
  }
  if (world.rank() == 0) {
    const std::string how =
        fmt::format(" cp={} layout={} algo={}{}{}", options.cp, options.layout, options.algo, chosen,
                    requested == ParallelAlgo::hybrid ? fmt::format(" ulysses={}", options.ulysses) : std::string());
    write_attention_output(input, result, output, how);
  }
  return 0;
}

template <typename T>
int read_and_run(const OpCheckFile& in, const std::string& output, const CpOptions& options, ParallelAlgo algo) {
  const auto input = read_attention_input<T>(in);
  check_cp_input(in, *input, options, algo);
  return run_job([&] { return run_cp<T>(*input, output, options, algo); });
}

}  // namespace

int op_check_attention_cp(const std::string& input, const std::string& output, const CpOptions& options) {
  MpiEnvironment mpi;
  try {
    ATTNSCALE_CHECK(mpi.world_size() == options.cp, "op-check",
                    "--cp {} but the job has {} rank(s): run it as mpirun -np {} attnscale op-check ...", options.cp,
                    mpi.world_size(), options.cp);
    const ParallelAlgo algo = parallel_algo_from_name(options.algo, "op-check");
    ATTNSCALE_CHECK(algo == ParallelAlgo::hybrid || options.ulysses == 0, "op-check",
                    "--ulysses applies to --algo hybrid only");
    ATTNSCALE_CHECK(algo != ParallelAlgo::hybrid || (options.ulysses >= 1 && options.cp % options.ulysses == 0),
                    "op-check", "--algo hybrid needs --ulysses U, a divisor of --cp ({}); got {}", options.cp,
                    options.ulysses);
    const OpCheckFile in(input);
    return attention_precision(in) == 4 ? read_and_run<float>(in, output, options, algo)
                                         : read_and_run<double>(in, output, options, algo);
  } catch (const Error& e) {
    // Raised before any collective, alike on every rank: each exits on its own; rank 0 says why.
    if (mpi.world_rank() == 0) std::fprintf(stderr, "error: %s\n", e.what());
    return static_cast<int>(e.exit_code());
  }
}

}  // namespace attnscale::app

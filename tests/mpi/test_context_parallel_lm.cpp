// The TransformerLM trained with its sequences sharded over a cp group (ring, Ulysses, hybrid;
// halo for window masks, sparse_fetch for block patterns, auto; every layout; a length not
// divisible by the rank count) follows the loss trajectory of one
// process holding whole sequences, and ends with the same parameters.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/core/autograd/node.h"
#include "framework/data/listops.h"
#include "framework/train/lm_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// Sets the attention mask both the sharded and the single-rank model use.
using MaskSetter = void (*)(Config&);
void causal_mask(Config&) {}

Config tiny_cp_config(int cp, config::Layout layout, ParallelAlgo algo, int ulysses,
                      MaskSetter set_mask = causal_mask) {
  set_log_level("warn");
  Config cfg;
  cfg.model.d_model = 24;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 12;  // divisible by 1..4 for Ulysses
  cfg.model.n_kv_heads = algo == ParallelAlgo::ulysses || algo == ParallelAlgo::hybrid ? 12 : 4;  // GQA on the ring (Ulysses shards kv heads too)
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 19;  // not divisible by 2, 3 or 4
  cfg.data.vocab_size = 12;
  cfg.data.batch_size = 4;
  cfg.parallel.cp = cp;
  cfg.parallel.layout = layout;
  cfg.parallel.algo = algo;
  cfg.parallel.ulysses = ulysses;
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 3;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  set_mask(cfg);
  validate(cfg);
  return cfg;
}

// A task's view of a cp group of every rank of comm, sharded by `layout`.
train::ParallelContext cp_context(Communicator& comm, const ProcessGrid& grid,
                                  config::Layout layout = config::Layout::contiguous) {
  train::ParallelContext parallel;
  parallel.world = &comm;
  parallel.grid = &grid;
  parallel.layout = kernels::parse_layout_kind(std::string(config::to_string(layout)).c_str());
  return parallel;
}

// How close the sharded run must stay: relative per-step loss, absolute per parameter element.
struct Agreement {
  double loss = 1e-5;
  // 5e-5: eight AdamW steps amplify fp32 summation-order differences, and OpenBLAS's kernels (so
  // the order) differ between CPUs (1.6e-5 seen on AMD Zen 4); a wrong gradient scale moves far more.
  double parameter = 5e-5;
};

void expect_matches_single_rank(config::Layout layout, ParallelAlgo algo, int ulysses,
                                MaskSetter set_mask = causal_mask, Agreement agreement = {}) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const Config cfg = tiny_cp_config(p, layout, algo, ulysses, set_mask);
  const ProcessGrid grid(*comm, GridShape::for_world(p, p, ulysses));
  train::LMTask task(cfg, cp_context(*comm, grid, layout));
  const auto sharded = train::Trainer(cfg, task, nullptr, comm->rank(), comm.get()).run();

  Config single_cfg = tiny_cp_config(1, layout, ParallelAlgo::ring, 1, set_mask);
  single_cfg.model.n_kv_heads = cfg.model.n_kv_heads;  // the same model
  train::LMTask single_task(single_cfg);
  const auto single = train::Trainer(single_cfg, single_task, nullptr, 0).run();

  ASSERT_EQ(sharded.losses.size(), single.losses.size());
  for (size_t i = 0; i < single.losses.size(); ++i)
    EXPECT_NEAR(sharded.losses[i], single.losses[i], agreement.loss * single.losses[i]) << "step " << i + 1;
  const auto ps = task.model().named_parameters(), p1 = single_task.model().named_parameters();
  for (size_t i = 0; i < ps.size(); ++i) {
    const auto a = ps[i].tensor.to_vector<float>(), b = p1[i].tensor.to_vector<float>();
    for (size_t j = 0; j < a.size(); ++j) ASSERT_NEAR(a[j], b[j], agreement.parameter) << ps[i].name << "[" << j << "]";
  }
}

TEST(ContextParallelLM, RingEveryLayoutMatchesOneRank) {
  for (const auto layout : {config::Layout::contiguous, config::Layout::zigzag, config::Layout::striped})
    expect_matches_single_rank(layout, ParallelAlgo::ring, 1);
}

// model.dtype bf16: the ring runs in float32 between bf16 layers; the sharded and the one-rank run
// differ by float32 summation order, which a rounding to bf16 can turn into one bf16 step (2^-8
// relative) of an activation, so the bound is bf16's: 1e-3 on the loss, and on a parameter (the
// bf16 copy the model holds) one bf16 step at magnitude < 2 (2^-6: a norm weight near 1 may land
// one step apart; a wrong gradient moves far more).
void bf16_causal(Config& cfg) { cfg.model.dtype = config::ModelDType::bf16; }
TEST(ContextParallelLM, Bf16RingMatchesOneRankWithinBf16Rounding) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::ring, 1, bf16_causal, {1e-3, 1.0 / 64});
}

TEST(ContextParallelLM, UlyssesMatchesOneRank) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::ulysses, test::world().size());
}

TEST(ContextParallelLM, HybridMatchesOneRank) {
  if (test::world().size() % 2 != 0 || test::world().size() < 4) GTEST_SKIP() << "hybrid needs 2 x 2 ranks";
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::hybrid, 2);
}

void narrow_window(Config& cfg) {
  cfg.attention.mask = config::Mask::window;
  cfg.attention.window = 3;  // 2 keys back: narrower than every shard of 19 tokens over 2..4 ranks
}
void wide_window(Config& cfg) {
  cfg.attention.mask = config::Mask::window;
  cfg.attention.window = 11;  // 10 keys back: two or three ranks back over 3 and 4 ranks
}
void block_pattern(Config& cfg) {
  cfg.attention.mask = config::Mask::block_sparse;
  cfg.attention.block_size = 3;
  cfg.attention.sparse_pattern = config::SparsePattern::bigbird;
}

TEST(ContextParallelLM, HaloMatchesOneRank) {
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, narrow_window);
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, wide_window);
}

void narrow_window_recomputed(Config& cfg) {
  narrow_window(cfg);
  cfg.model.activation_checkpointing = true;  // the halo exchange runs again in the backward
}

TEST(ContextParallelLM, HaloWithActivationCheckpointingMatchesOneRank) {
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, narrow_window_recomputed);
}

// Per training step and layer, the halo sends the previous rank's last window - 1 key rows forward
// (K and V of every kv head, f32) and the same rows' dK/dV back; with activation checkpointing the
// forward's transfers happen twice. Nothing depends on the sequence length.
TEST(ContextParallelLM, HaloTrafficPerLayerIsTheWindow) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  for (const bool recompute : {false, true}) {
    Config cfg = tiny_cp_config(p, config::Layout::contiguous, ParallelAlgo::halo, 1, narrow_window);
    cfg.model.n_layers = 2;
    cfg.model.activation_checkpointing = recompute;
    const ProcessGrid grid(*comm, GridShape::for_world(p, p));
    train::LMTask task(cfg, cp_context(*comm, grid));
    grid.cp().reset_stats();
    task.train_batch(0).loss.backward();
    const uint64_t head_dim = static_cast<uint64_t>(cfg.model.d_model / cfg.model.n_heads);
    const uint64_t rows = static_cast<uint64_t>(cfg.attention.window - 1) * static_cast<uint64_t>(cfg.data.batch_size);
    const uint64_t per_layer = rows * head_dim * static_cast<uint64_t>(cfg.model.n_kv_heads) * 2 * 4;
    const int rank = grid.cp().rank();
    const uint64_t forward = rank + 1 < p ? per_layer : 0, backward = rank > 0 ? per_layer : 0;
    const uint64_t layers = static_cast<uint64_t>(cfg.model.n_layers);
    EXPECT_EQ(grid.cp().stats().total().bytes_sent, layers * ((recompute ? 2 : 1) * forward + backward))
        << "rank " << rank << (recompute ? " with" : " without") << " activation checkpointing";
  }
}

void latent_attention(Config& cfg) {
  cfg.attention.mechanism = "multi_head_latent";
  cfg.model.n_kv_heads = 0;  // MLA's keys and values come from its latent
  cfg.mla.kv_lora_rank = 6;
  cfg.mla.qk_nope_head_dim = 4;
  cfg.mla.qk_rope_head_dim = 2;
  cfg.mla.v_head_dim = 3;
}
void latent_attention_window(Config& cfg) {
  latent_attention(cfg);
  narrow_window(cfg);
}

// MLA's sharded path (absorbed: the latent travels) equals its one-rank path (per-head keys).
TEST(ContextParallelLM, LatentAttentionMatchesOneRank) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::ring, 1, latent_attention);
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, latent_attention_window);
}

// What MLA's halo moves per layer: (window - 1) rows of the latent key (kv_lora_rank +
// qk_rope_head_dim) and latent value (kv_lora_rank), not per-head keys and values.
TEST(ContextParallelLM, LatentAttentionHaloMovesTheLatent) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const Config cfg = tiny_cp_config(p, config::Layout::contiguous, ParallelAlgo::halo, 1, latent_attention_window);
  const ProcessGrid grid(*comm, GridShape::for_world(p, p));
  train::LMTask task(cfg, cp_context(*comm, grid));
  grid.cp().reset_stats();
  {
    autograd::NoGradGuard no_grad;
    task.train_batch(0);
  }
  const uint64_t rows = static_cast<uint64_t>((cfg.attention.window - 1) * cfg.data.batch_size);
  const uint64_t values = static_cast<uint64_t>(2 * cfg.mla.kv_lora_rank + cfg.mla.qk_rope_head_dim);
  const uint64_t expected = grid.cp().rank() + 1 < p ? rows * values * 4 * static_cast<uint64_t>(cfg.model.n_layers) : 0;
  EXPECT_EQ(grid.cp().stats().total().bytes_sent, expected) << "rank " << grid.cp().rank();
}

void sparsemax_blocks(Config& cfg) {
  block_pattern(cfg);
  cfg.attention.mechanism = "sparse";
  cfg.attention.normalizer = config::Normalizer::sparsemax;
}

// Sparsemax needs whole score rows: all_gather (and auto, which picks it) shard the queries and
// gather the keys.
TEST(ContextParallelLM, SparsemaxAllGatherMatchesOneRank) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::all_gather, 1, sparsemax_blocks);
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::auto_, 1, sparsemax_blocks);
  expect_matches_single_rank(config::Layout::striped, ParallelAlgo::all_gather, 1, narrow_window);  // softmax
}

void adaptive_span(Config& cfg) {
  cfg.attention.mechanism = "adaptive";
  cfg.model.n_kv_heads = 0;
  cfg.adaptive_span.max_span = 12;  // wider than a shard over 2..4 ranks of 19 tokens
  cfg.adaptive_span.ramp = 4;
  cfg.adaptive_span.init = 0.5;
  cfg.adaptive_span.penalty = 0.01;
}

// The span's band reaches into the previous shards (halo_prefix); the spans' gradients, the
// penalty and the keys' gradients sent home follow the one-rank run.
TEST(ContextParallelLM, AdaptiveSpanMatchesOneRank) {
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, adaptive_span);
}

TEST(ContextParallelLM, SparseFetchMatchesOneRank) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::sparse_fetch, 1, block_pattern);
}

TEST(ContextParallelLM, AutoMatchesOneRank) {
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::auto_, 1, narrow_window);  // halo
  expect_matches_single_rank(config::Layout::striped, ParallelAlgo::auto_, 1, narrow_window);     // ring
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::auto_, 1, block_pattern);  // fetch
}

// ListOps classification (data.path): each expression scored at its last token, which sits on
// whichever rank the layout gives it. Every rank writes the same file (its own copy: no shared
// directory is assumed) once per process.
const std::filesystem::path& listops_file() {
  static const std::filesystem::path path = [] {
    auto file = std::filesystem::temp_directory_path() / ("attnscale-cp-listops-" + std::to_string(getpid()) + ".h5");
    data::ListOpsOptions o;
    o.sizes = {24, 4, 0};
    o.min_length = 5;
    o.max_length = 19;  // the config's seq_len
    data::write_listops(file, data::generate_listops(o));
    return file;
  }();
  return path;
}
void remove_listops_file() { std::filesystem::remove(listops_file()); }

void listops_classification(Config& cfg) {
  cfg.data.path = listops_file().string();
  static const bool removed_at_exit = std::atexit(remove_listops_file) == 0;  // after the path exists
  EXPECT_TRUE(removed_at_exit);
  cfg.data.vocab_size = data::kListOpsVocabSize;
}
void listops_window(Config& cfg) {
  listops_classification(cfg);
  narrow_window(cfg);
}

TEST(ContextParallelLM, ListOpsClassificationMatchesOneRank) {
  expect_matches_single_rank(config::Layout::zigzag, ParallelAlgo::ring, 1, listops_classification);
  expect_matches_single_rank(config::Layout::contiguous, ParallelAlgo::halo, 1, listops_window);
}

}  // namespace
}  // namespace attnscale

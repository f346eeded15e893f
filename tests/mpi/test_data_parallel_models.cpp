// Data parallelism for every model type besides the LM and HAN (test_data_parallel.cpp,
// test_han_distributed.cpp): dp ranks, each with its share of a global batch of 12, follow the
// one-rank loss trajectory, evaluate to the same loss and accuracy, and end with the same
// parameters as one process with the whole batch. The tasks come from make_task, as in a real run.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>

#include "base/logging.h"
#include "framework/attention/hard.h"
#include "framework/data/babi_like.h"
#include "framework/data/pair_batches.h"
#include "framework/data/pair_prepare.h"
#include "framework/data/synthetic.h"
#include "distributed/comm/process_grid.h"
#include "framework/io/run_dir.h"
#include "framework/train/make_task.h"
#include "framework/train/seq2seq_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/mpi/shared_temp_dir.h"

namespace attnscale {
namespace {

// Tiny models, global batch 12 (divisible by 1, 2, 3 and 4 ranks), variable-length examples so
// that a rank's micro-batch is padded to another length than the whole batch.
Config tiny_config(config::ModelType type, int dp) {
  set_log_level("warn");  // every rank trains; keep the test output to results
  Config cfg;
  cfg.model.type = type;
  cfg.model.d_model = 8;
  cfg.model.n_heads = 2;
  cfg.model.n_layers = 1;
  cfg.data.batch_size = 12;
  cfg.parallel.dp = dp;
  cfg.optim.lr = 0.01;  // large enough that a wrong gradient share shows in a few steps
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 3;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  switch (type) {
    case config::ModelType::seq2seq:
      cfg.attention.mechanism = "soft";
      cfg.data.vocab_size = 8;
      cfg.seq2seq.min_len = 2;
      cfg.seq2seq.max_len = 6;
      break;
    case config::ModelType::encoder_decoder:
      cfg.attention.mechanism = "cross";
      cfg.data.vocab_size = 10;
      cfg.encoder_decoder.min_len = 2;
      cfg.encoder_decoder.max_len = 6;
      break;
    case config::ModelType::captioner:
      cfg.attention.mechanism = "adaptive";
      cfg.captioner.regions = 4;
      cfg.captioner.classes = 3;
      cfg.captioner.objects = 2;
      break;
    case config::ModelType::memn2n:
      cfg.attention.mechanism = "memory";
      cfg.memn2n.hops = 2;
      cfg.memn2n.max_sentences = 6;
      cfg.memn2n.linear_start_steps = 1;  // the first step without the softmax, the others with it
      break;
    case config::ModelType::temporal:
      cfg.attention.mechanism = "temporal";
      cfg.temporal.classes = 4;
      cfg.temporal.events = 2;
      cfg.temporal.min_steps = 3;
      cfg.temporal.max_steps = 8;
      cfg.temporal.feature_dim = 8;
      break;
    default: ADD_FAILURE() << "no tiny config for " << config::to_string(type);
  }
  validate(cfg);
  return cfg;
}

struct DataParallelRun {
  std::unique_ptr<Communicator> comm;
  std::unique_ptr<ProcessGrid> grid;
  std::unique_ptr<train::TrainTask> task;
  train::TrainSummary summary;
};

DataParallelRun train_data_parallel(const Config& cfg) {
  DataParallelRun run;
  run.comm = test::fresh_comm();
  run.grid = std::make_unique<ProcessGrid>(*run.comm, GridShape::for_world(run.comm->size(), 1));
  train::ParallelContext parallel;
  parallel.world = run.comm.get();
  parallel.grid = run.grid.get();
  run.task = train::make_task(cfg, parallel);
  run.summary = train::Trainer(cfg, *run.task, nullptr, run.comm->rank(), run.comm.get()).run();
  return run;
}

void expect_matches_one_rank(config::ModelType type, const std::function<void(Config&)>& adjust = {}) {
  const int p = test::world().size();
  Config cfg = tiny_config(type, p), single_cfg = tiny_config(type, 1);
  if (adjust) adjust(cfg), adjust(single_cfg);
  const DataParallelRun distributed = train_data_parallel(cfg);
  const auto single_task = train::make_task(single_cfg, {});
  const train::TrainSummary single = train::Trainer(single_cfg, *single_task, nullptr, 0).run();

  ASSERT_EQ(distributed.summary.losses.size(), single.losses.size());
  for (size_t i = 0; i < single.losses.size(); ++i)
    EXPECT_NEAR(distributed.summary.losses[i], single.losses[i], 1e-5 * single.losses[i]) << "step " << i + 1;
  // The loss moved: a trajectory that stayed put would match whatever the gradient.
  EXPECT_GT(std::abs(single.losses.back() - single.losses.front()), 1e-4 * single.losses.front());
  EXPECT_NEAR(distributed.summary.final_eval.loss, single.final_eval.loss, 1e-5 * single.final_eval.loss);
  EXPECT_NEAR(distributed.summary.final_eval.accuracy, single.final_eval.accuracy, 1e-12);
  const auto pd = distributed.task->model().named_parameters(), ps = single_task->model().named_parameters();
  ASSERT_EQ(pd.size(), ps.size());
  for (size_t i = 0; i < pd.size(); ++i) {
    const auto vd = pd[i].tensor.to_vector<float>(), vs = ps[i].tensor.to_vector<float>();
    ASSERT_EQ(vd.size(), vs.size()) << pd[i].name;
    for (size_t j = 0; j < vd.size(); ++j) ASSERT_NEAR(vd[j], vs[j], 2e-5) << pd[i].name << "[" << j << "]";
  }
}

TEST(DataParallelModels, Seq2SeqMatchesOneRank) { expect_matches_one_rank(config::ModelType::seq2seq); }

TEST(DataParallelModels, Seq2SeqAdditiveMatchesOneRank) {
  expect_matches_one_rank(config::ModelType::seq2seq,
                          [](Config& cfg) { cfg.attention.mechanism = "additive"; });
}

TEST(DataParallelModels, EncoderDecoderMatchesOneRank) { expect_matches_one_rank(config::ModelType::encoder_decoder); }

TEST(DataParallelModels, CaptionerMatchesOneRank) { expect_matches_one_rank(config::ModelType::captioner); }

TEST(DataParallelModels, MemN2NMatchesOneRank) { expect_matches_one_rank(config::ModelType::memn2n); }

// On a prepared bAbI set: the ranks split each epoch's shuffled training batch (with random noise),
// and the last, partial validation batch (100 = 8 x 12 + 4 questions) evenly.
TEST(DataParallelModels, MemN2NOnAPreparedSetMatchesOneRank) {
  // Every rank writes its own copy: the generation is deterministic, and no file is shared.
  const auto file = std::filesystem::temp_directory_path() /
                    ("attnscale-babi-dp-" + std::to_string(test::world().rank()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".h5");
  data::write_babi_dataset(file, data::generate_babi_dataset({data::BabiTask::two_facts, 1000, 100, 0.1, 3}));
  expect_matches_one_rank(config::ModelType::memn2n, [&](Config& cfg) {
    cfg.data.path = file.string();
    cfg.memn2n.task = config::BabiTask::two_facts;
    cfg.memn2n.max_sentences = 50;
    cfg.memn2n.random_noise = 0.2;
    cfg.train.steps = 80;  // past the first epoch (900 / 12 = 75 steps)
    cfg.train.eval_batches = 9;
  });
  std::filesystem::remove(file);
}

// The tiny Bible pair corpus of tests/pairs/fixtures (49 verses; train 27: Genesis, Exodus,
// Jonah; validation 8: Ruth), prepared by every rank into its own file (the preparation is
// deterministic). Removed with the object.
struct FixturePairs {
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("attnscale-pairs-dp-" + std::to_string(test::world().rank()) + "-" +
                                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".h5");
  FixturePairs() {
    const std::filesystem::path fixtures = std::filesystem::path(ATTNSCALE_SOURCE_DIR) / "tests/pairs/fixtures";
    data::PairPrepareOptions o;
    o.source = fixtures / "sparv.txt";
    o.target = fixtures / "web.txt";
    o.output = file;
    o.source_vocab = o.target_vocab = 120;
    o.validation_books = {"Ruth"};
    o.test_books = {"Mark", "I Samuel"};
    data::prepare_pairs(o);
  }
  ~FixturePairs() { std::filesystem::remove(file); }
};

// Each rank's share of a global batch, read from the file, is a set of rows of the batch one rank
// would read (matched by content), and over the ranks every row is held exactly once.
TEST(DataParallelModels, PairCorpusSharesAreDisjointAndCoverEachBatch) {
  const FixturePairs pairs;
  auto& comm = test::world();
  const int p = comm.size(), r = comm.rank();
  const data::PairStore store(pairs.file);
  data::PairBatchSpec spec;
  spec.batch_size = 12;
  spec.bucket_batches = 2;
  const data::PairBatcher batcher(store, data::Split::train, spec);
  const auto rows = [](const data::TransductionBatch& b) {
    std::vector<std::vector<int64_t>> out;
    const auto src = b.source.to_vector<int64_t>(), tgt = b.target_outputs.to_vector<int64_t>();
    const auto lengths = b.source_lengths.to_vector<int64_t>();
    const int64_t s = b.source.shape()[1], t = b.target_outputs.shape()[1];
    for (size_t i = 0; i < lengths.size(); ++i) {
      std::vector<int64_t> row(src.begin() + i * s, src.begin() + i * s + lengths[i]);
      for (int64_t j = 0; j < t && tgt[i * t + j] != data::kIgnoreIndex; ++j) row.push_back(tgt[i * t + j]);
      out.push_back(row);
    }
    return out;
  };
  for (int64_t i = 0; i < 2 * batcher.batches_per_epoch(); ++i) {
    const std::vector<int64_t> batch = batcher.train_batch(i);
    const auto whole = rows(data::make_pair_batch(store, batch, 0, 1));
    const auto mine = rows(data::make_pair_batch(store, batch, r, p));
    std::vector<double> held(whole.size(), 0.0);
    for (const auto& row : mine) {
      const auto it = std::find(whole.begin(), whole.end(), row);
      ASSERT_NE(it, whole.end()) << "batch " << i << ": rank " << r << " holds a row the batch does not have";
      held[it - whole.begin()] += 1;
    }
    comm.all_reduce(held, ReduceOp::sum);
    for (size_t k = 0; k < held.size(); ++k) EXPECT_EQ(held[k], 1.0) << "batch " << i << " row " << k;
  }
}

// Training on the pair corpus: the ranks read their shares from the file and follow the one-rank
// run, as on the synthetic task.
void on_fixture_pairs(Config& cfg, const FixturePairs& pairs) {
  cfg.data.path = pairs.file.string();
  cfg.data.vocab_size = DataConfig{}.vocab_size;  // the corpus's
  cfg.seq2seq.min_len = Seq2SeqConfig{}.min_len;
  cfg.seq2seq.max_len = 200;
  cfg.encoder_decoder.min_len = EncoderDecoderConfig{}.min_len;
  cfg.encoder_decoder.max_len = 200;
  cfg.model.max_seq_len = 256;
}

TEST(DataParallelModels, Seq2SeqOnAPairCorpusMatchesOneRank) {
  const FixturePairs pairs;
  expect_matches_one_rank(config::ModelType::seq2seq, [&](Config& cfg) { on_fixture_pairs(cfg, pairs); });
}

TEST(DataParallelModels, EncoderDecoderOnAPairCorpusMatchesOneRank) {
  const FixturePairs pairs;
  expect_matches_one_rank(config::ModelType::encoder_decoder, [&](Config& cfg) { on_fixture_pairs(cfg, pairs); });
}

TEST(DataParallelModels, TemporalMatchesOneRank) { expect_matches_one_rank(config::ModelType::temporal); }

// Hard attention samples each rank's share from the rank's own stream, so its trajectory is not the
// one-rank one (seq2seq_task.h); its REINFORCE baseline still moves by the mean reward of the whole
// global batch, as in the one-rank run. The reward of a token is minus its loss, so the global mean
// reward is minus the sum of the ranks' loss shares.
TEST(DataParallelModels, HardAttentionBaselineFollowsTheGlobalMeanReward) {
  auto comm = test::fresh_comm();
  Config cfg = tiny_config(config::ModelType::seq2seq, comm->size());
  cfg.attention.mechanism = "hard";
  const ProcessGrid grid(*comm, GridShape::for_world(comm->size(), 1));
  train::ParallelContext parallel;
  parallel.world = comm.get();
  parallel.grid = &grid;
  train::Seq2SeqTask task(cfg, parallel);
  const auto& hard = dynamic_cast<const attention::HardAttention&>(task.seq2seq().attention());
  const double decay = hard.options().baseline_decay;
  const auto updates = [&] {
    for (const NamedTensor& b : task.model().named_buffers())
      if (b.name == "attention.baseline_updates") return b.tensor.item();
    return -1.0;
  };

  const double first_mean_reward = -comm->all_reduce_value(task.train_batch(0).loss.item(), ReduceOp::sum);
  EXPECT_NEAR(hard.baseline(), first_mean_reward, 1e-5 * std::abs(first_mean_reward));
  EXPECT_EQ(updates(), 1.0);
  const double second_mean_reward = -comm->all_reduce_value(task.train_batch(1).loss.item(), ReduceOp::sum);
  const double expected = decay * first_mean_reward + (1 - decay) * second_mean_reward;
  EXPECT_NEAR(hard.baseline(), expected, 1e-5 * std::abs(expected));
  EXPECT_EQ(updates(), 2.0);
  // Every rank holds that one baseline.
  EXPECT_EQ(comm->all_reduce_value(hard.baseline(), ReduceOp::max),
            comm->all_reduce_value(hard.baseline(), ReduceOp::min));
}

// A dp run saved at step 2 and resumed continues bit-exactly as the uninterrupted run: each rank's
// dropout and sample streams (TrainTask::generators) and the global baseline come back.
TEST(DataParallelModels, Seq2SeqWithDropoutAndHardAttentionResumesBitExactly) {
  auto comm = test::fresh_comm();
  test::SharedTempDir dir(*comm);
  const ProcessGrid grid(*comm, GridShape::for_world(comm->size(), 1));
  train::ParallelContext parallel;
  parallel.world = comm.get();
  parallel.grid = &grid;
  const auto config = [&](const std::string& name, int64_t every) {
    Config cfg = tiny_config(config::ModelType::seq2seq, comm->size());
    cfg.attention.mechanism = "hard";
    cfg.model.dropout = 0.2;
    cfg.run.dir = (dir.path() / name).string();
    cfg.train.steps = 4;
    cfg.checkpoint.every = every;
    cfg.logging.metrics = false;
    return cfg;
  };
  const auto train = [&](const Config& cfg) {
    const RunDir run_dir = resolve_run_dir(cfg, std::chrono::system_clock::now());
    auto task = train::make_task(cfg, parallel);
    return train::Trainer(cfg, *task, &run_dir, comm->rank(), comm.get()).run();
  };
  const train::TrainSummary reference = train(config("straight", 4));
  Config interrupted = config("interrupted", 2);
  train(interrupted);
  comm->barrier();
  if (comm->rank() == 0) std::filesystem::remove_all(dir.path() / "interrupted" / "checkpoints" / "step_00000004");
  comm->barrier();
  interrupted.train.resume = "auto";
  const train::TrainSummary resumed = train(interrupted);
  EXPECT_EQ(resumed.resumed_from_step, 2);
  ASSERT_EQ(resumed.losses.size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(std::bit_cast<uint64_t>(resumed.losses[i]), std::bit_cast<uint64_t>(reference.losses[i + 2]))
        << "step " << i + 3 << ": " << resumed.losses[i] << " vs " << reference.losses[i + 2];
}

}  // namespace
}  // namespace attnscale

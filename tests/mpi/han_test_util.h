// HAN trained on a process grid against the same run on one rank, for tests/mpi/test_han_*.cpp:
// a tiny synthetic task whose documents have 1-6 sentences (some fewer than the ranks, most not
// divisible by them), the same global batch on both sides.
#pragma once

#include <gtest/gtest.h>

#include "base/logging.h"
#include "distributed/comm/process_grid.h"
#include "framework/train/han_task.h"
#include "framework/train/trainer.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale::test {

inline Config tiny_han_config(int dp, int cp) {
  set_log_level("warn");
  Config cfg;
  cfg.model.type = config::ModelType::han;
  cfg.model.d_model = 8;
  cfg.han.embed_dim = 6;
  cfg.han.attn_dim = 5;
  cfg.han.sentence_encoder = config::SentenceEncoder::none;
  cfg.han.sentence_heads = 4;   // transformer encoder: sentence vectors of 16, heads of 4
  cfg.han.sentence_layers = 2;
  cfg.han.num_classes = 3;
  cfg.han.train_docs = 48;
  cfg.han.eval_docs = 12;
  cfg.han.synth_min_sentences = 1;  // some documents have fewer sentences than ranks
  cfg.han.synth_max_sentences = 6;
  cfg.data.vocab_size = 20;
  cfg.data.batch_size = 12;  // divisible by 1, 2, 3, 4
  cfg.parallel.dp = dp;
  cfg.parallel.cp = cp;
  cfg.optim.warmup_steps = 1;
  cfg.train.steps = 4;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  validate(cfg);
  return cfg;
}

inline void expect_han_matches_one_rank(int dp, int cp, config::HanPooling pooling,
                                        config::SentenceEncoder encoder = config::SentenceEncoder::none) {
  auto comm = fresh_comm();
  Config cfg = tiny_han_config(dp, cp);
  cfg.han.pooling = pooling;
  cfg.han.sentence_encoder = encoder;
  const ProcessGrid grid(*comm, GridShape::for_world(comm->size(), cp));
  train::ParallelContext parallel;
  parallel.world = comm.get();
  parallel.grid = &grid;
  train::HanTask task(cfg, parallel);
  const train::TrainSummary distributed = train::Trainer(cfg, task, nullptr, comm->rank(), comm.get()).run();

  Config single_cfg = tiny_han_config(1, 1);
  single_cfg.han.pooling = pooling;
  single_cfg.han.sentence_encoder = encoder;
  train::HanTask single_task(single_cfg);
  const train::TrainSummary single = train::Trainer(single_cfg, single_task, nullptr, 0).run();

  ASSERT_EQ(distributed.losses.size(), single.losses.size());
  for (size_t i = 0; i < single.losses.size(); ++i)
    EXPECT_NEAR(distributed.losses[i], single.losses[i], 1e-5 * single.losses[i]) << "step " << i + 1;
  EXPECT_NEAR(distributed.final_eval.accuracy, single.final_eval.accuracy, 1e-12);
  const auto pd = task.model().named_parameters(), ps = single_task.model().named_parameters();
  ASSERT_EQ(pd.size(), ps.size());
  for (size_t i = 0; i < pd.size(); ++i) {
    const auto vd = pd[i].tensor.to_vector<float>(), vs = ps[i].tensor.to_vector<float>();
    // 5e-5: AdamW steps amplify fp32 summation-order differences, which depend on the CPU's OpenBLAS
    // kernels (3.1e-5 seen on AMD Zen 4).
    for (size_t j = 0; j < vd.size(); ++j) ASSERT_NEAR(vd[j], vs[j], 5e-5) << pd[i].name << "[" << j << "]";
  }
}

}  // namespace attnscale::test

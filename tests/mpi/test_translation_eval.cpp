// The decoding evaluation of `attnscale eval` (train/translation_eval.h) under mpirun: dp ranks, each
// decoding its share of every held-out batch, gather the same sentences in the same order as one
// rank decoding whole batches, with the same hypotheses, log-probabilities and BLEU, for greedy and
// beam search, for both translation models. Batches of 12 split over 1, 2, 3 and 4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "distributed/comm/process_grid.h"
#include "framework/train/make_task.h"
#include "framework/train/translation_eval.h"
#include "tests/mpi/mpi_test_env.h"
#include "tests/test_util/tiny_translation.h"

namespace attnscale {
namespace {

Config tiny_config(config::ModelType type, int dp) {
  Config cfg = test::tiny_translation_config(type, 9, 12, 6);
  cfg.parallel.dp = dp;
  cfg.train.eval_batches = 2;
  validate(cfg);
  return cfg;
}

void expect_matches_one_rank(config::ModelType type, int64_t beam_size) {
  const auto comm = test::fresh_comm();
  const ProcessGrid grid(*comm, GridShape::for_world(comm->size(), 1));
  train::ParallelContext parallel;
  parallel.world = comm.get();
  parallel.grid = &grid;
  Config cfg = tiny_config(type, comm->size()), single_cfg = tiny_config(type, 1);
  cfg.eval.beam_size = single_cfg.eval.beam_size = beam_size;
  // Both start from run.seed's initialisation: the same parameters on every rank.
  const auto task = train::make_task(cfg, parallel);
  const auto single_task = train::make_task(single_cfg, {});
  train::DecodingTask& decoding = *task->decoding();
  train::DecodingTask& single_decoding = *single_task->decoding();
  const train::TranslationEval distributed = train::evaluate_translation(
      decoding, parallel, cfg.train.eval_batches, train::beam_options(cfg, decoding));
  const train::TranslationEval single = train::evaluate_translation(
      single_decoding, {}, single_cfg.train.eval_batches, train::beam_options(single_cfg, single_decoding));

  ASSERT_EQ(single.sentences, 24);
  ASSERT_EQ(distributed.sentences, single.sentences);
  EXPECT_EQ(distributed.sources, single.sources);
  EXPECT_EQ(distributed.references, single.references);
  EXPECT_EQ(distributed.hypotheses, single.hypotheses);
  EXPECT_EQ(distributed.ended, single.ended);
  EXPECT_NEAR(distributed.log_prob, single.log_prob, 1e-4 * std::abs(single.log_prob));
  EXPECT_EQ(distributed.bleu.score, single.bleu.score);
  EXPECT_EQ(distributed.bleu.summary(), single.bleu.summary());
  // Words were decoded (untrained models may end at once; these do not everywhere), so a wrong
  // gather or decoding would show.
  EXPECT_TRUE(std::any_of(single.hypotheses.begin(), single.hypotheses.end(), [](const std::string& h) { return !h.empty(); }));
}

TEST(TranslationEval, Seq2SeqGreedyMatchesOneRank) { expect_matches_one_rank(config::ModelType::seq2seq, 1); }
TEST(TranslationEval, Seq2SeqBeamMatchesOneRank) { expect_matches_one_rank(config::ModelType::seq2seq, 3); }
TEST(TranslationEval, EncoderDecoderGreedyMatchesOneRank) {
  expect_matches_one_rank(config::ModelType::encoder_decoder, 1);
}
TEST(TranslationEval, EncoderDecoderBeamMatchesOneRank) {
  expect_matches_one_rank(config::ModelType::encoder_decoder, 3);
}

}  // namespace
}  // namespace attnscale

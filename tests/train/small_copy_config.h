// The small TransformerLM on the synthetic copy task that training tests share: it learns the task
// in about a hundred steps on one thread.
#pragma once

#include "base/threads.h"
#include "framework/config/config.h"

namespace attnscale {

inline Config small_copy_config() {
  set_thread_count(1);  // what ctest also sets; the trainer leaves threads to the program
  Config cfg;
  cfg.model.d_model = 32;
  cfg.model.n_layers = 2;
  cfg.model.n_heads = 2;
  cfg.data.task = config::Task::copy;
  cfg.data.seq_len = 33;  // 16 tokens, a separator, and the 16-token copy
  cfg.data.batch_size = 16;
  cfg.data.vocab_size = 16;
  cfg.optim.lr = 1e-2;
  cfg.optim.warmup_steps = 20;
  cfg.train.steps = 120;
  cfg.train.eval_batches = 4;
  cfg.train.threads = 1;
  cfg.logging.progress = config::ProgressMode::off;
  cfg.logging.level = config::LogLevel::warn;
  validate(cfg);
  return cfg;
}

}  // namespace attnscale

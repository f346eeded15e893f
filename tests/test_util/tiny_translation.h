// A tiny translation model and task for the decoding tests: seq2seq with soft attention or the
// encoder_decoder Transformer with cross-attention, width 16, one layer, sentences of 2 to max_len
// words. Not validated: callers adjust it, then validate.
#pragma once

#include <cstdint>

#include "base/logging.h"
#include "framework/config/config.h"

namespace attnscale::test {

inline Config tiny_translation_config(config::ModelType type, int64_t vocab_size, int64_t batch_size,
                                      int64_t max_len) {
  set_log_level("warn");
  Config cfg;
  cfg.model.type = type;
  cfg.model.d_model = 16;
  cfg.model.n_heads = 2;
  cfg.model.n_layers = 1;
  cfg.data.vocab_size = vocab_size;
  cfg.data.batch_size = batch_size;
  cfg.logging.progress = config::ProgressMode::off;
  if (type == config::ModelType::seq2seq) {
    cfg.attention.mechanism = "soft";
    cfg.seq2seq.min_len = 2, cfg.seq2seq.max_len = max_len;
  } else {
    cfg.attention.mechanism = "cross";
    cfg.encoder_decoder.min_len = 2, cfg.encoder_decoder.max_len = max_len;
  }
  return cfg;
}

}  // namespace attnscale::test

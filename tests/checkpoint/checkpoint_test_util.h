// Shared by tests/checkpoint and tests/mpi: a small module whose parameters and buffers cover every
// dtype and rank, filled with arange + base (so a load that copies nothing cannot pass), checkpoint
// content built from it, and byte-level digests of named tensors.
#pragma once

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "framework/config/config.h"
#include "framework/checkpoint/state.h"
#include "framework/io/sha256.h"
#include "framework/nn/module.h"
#include "framework/optim/adam.h"

namespace attnscale::test_checkpoint {

// arange(numel) + base, shaped.
inline Tensor filled(const Shape& shape, DType dtype, double base) {
  const int64_t n = numel_of(shape);
  return ATTNSCALE_DISPATCH_ALL(dtype, [&] {
    std::vector<scalar_t> values(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<scalar_t>(static_cast<double>(i) + base);
    return Tensor::from(values, shape);
  });
}

class TinyModel : public nn::Module {
 public:
  explicit TinyModel(double base) {
    register_parameter("encoder.weight", filled({6, 5}, DType::f32, base));
    register_parameter("encoder.bias", filled({5}, DType::f32, base + 100));
    register_parameter("head.proj.weight", filled({3, 2, 4}, DType::f64, base + 200));
    register_parameter("head.scale", filled({}, DType::f32, base + 300));
    register_buffer("head.count", filled({2}, DType::i64, base + 400));
    register_buffer("head.empty", filled({0, 3}, DType::f32, 0));
  }
};

// Sets every optimizer state tensor (moments and step counts) to arange + base.
inline void fill_state(const Optimizer& optimizer, double base) {
  for (const NamedTensor& s : optimizer.state()) {
    Tensor target = s.tensor;
    target.copy_(filled(s.tensor.shape(), s.tensor.dtype(), base));
  }
}

inline std::unique_ptr<Adam> make_adam(const nn::Module& model) {
  return std::make_unique<AdamW>(model.named_parameters(), AdamOptions{});
}

inline checkpoint::Content make_content(const nn::Module& model, const Optimizer& optimizer, int64_t step,
                                        GridShape grid = {}, checkpoint::RankState rank_state = {}) {
  checkpoint::Content content;
  content.step = step;
  content.parameters = model.named_parameters();
  content.buffers = model.named_buffers();
  content.optimizer_state = optimizer.state();
  content.optimizer = optimizer.name();
  content.config_yaml = to_yaml(Config{});
  content.grid = grid;
  content.rank_state = std::move(rank_state);
  return content;
}

// SHA-256 over every tensor's name, dtype, shape and bytes, in name order: equal digests mean
// byte-identical tensors under the same names.
inline std::string digest(NamedTensors tensors) {
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  Sha256 hash;
  const auto add = [&](const void* data, std::size_t bytes) {
    hash.update(std::span(static_cast<const std::byte*>(data), bytes));
  };
  for (const NamedTensor& t : tensors) {
    const Tensor c = t.tensor.detach().contiguous();
    const std::string header = t.name + "|" + std::string(dtype_name(c.dtype())) + "|" + shape_str(c.shape()) + "|";
    add(header.data(), header.size());
    add(c.storage()->data() + c.offset() * static_cast<int64_t>(dtype_size(c.dtype())),
        static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
  }
  return to_hex(hash.finish());
}

// A language model small enough to train 8 steps in a fraction of a second, with dropout (a random
// stream a checkpoint must restore).
inline Config tiny_lm_config(const std::filesystem::path& run_dir) {
  Config cfg;
  cfg.run.dir = run_dir.string();
  cfg.model.d_model = 16;
  cfg.model.n_layers = 1;
  cfg.model.n_heads = 2;
  cfg.model.dropout = 0.1;
  cfg.model.max_seq_len = 16;
  cfg.data.seq_len = 16;
  cfg.data.batch_size = 8;
  cfg.data.vocab_size = 16;
  cfg.data.num_pairs = 3;
  cfg.optim.warmup_steps = 2;
  cfg.train.steps = 8;
  cfg.train.log_every = 1;
  cfg.train.eval_batches = 1;
  cfg.logging.progress = config::ProgressMode::off;
  return cfg;
}

}  // namespace attnscale::test_checkpoint

// What the trainer needs from a model paired with its data: a loss on a numbered batch. Batch i is
// a pure function of i (and the seed), so the data position a checkpoint must remember is the next
// batch index (the trainer's data cursor).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/core/tensor/random.h"

namespace attnscale::train {

struct BatchResult {
  Tensor loss;          // scalar; differentiable when training
  int64_t correct = 0;  // scored predictions that were right (accuracy = correct / scored)
  int64_t scored = 0;
  int64_t tokens = 0;   // tokens processed by this rank (for tokens/s)
};

// A random stream a task draws from while training, under a stable name ("dropout"): checkpoints
// save and restore its (seed, offset) by that name.
struct NamedGenerator {
  std::string name;
  Generator* generator = nullptr;
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual nn::Module& model() = 0;
  // Loss on training batch `index` in training mode.
  virtual BatchResult train_batch(int64_t index) = 0;
  // Loss and accuracy on held-out batch `index` (never a training batch), without gradients.
  virtual BatchResult eval_batch(int64_t index) = 0;
  // Accuracy of uniform guessing, to show how far above chance a run gets.
  virtual double chance_accuracy() const = 0;
  // Every random stream train_batch draws from (empty when it draws none). Checkpoints restore
  // exactly these: a stream left out would make a resumed run differ from an uninterrupted one.
  virtual std::vector<NamedGenerator> generators() = 0;
};

}  // namespace attnscale::train

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

class DecodingTask;  // translation_eval.h

// A loss that is this rank's share of a mean over `count` items (tokens, answers, documents) of
// every rank: summing the shares over ranks gives the mean.
struct LossShare {
  Tensor loss;
  int64_t count = 0;
};

struct BatchResult {
  Tensor loss;          // scalar; differentiable when training
  // The items of all ranks `loss` is the mean over (0: not given). With train.accum_steps > 1
  // the trainer weights each micro-batch by it, so the step's gradient is the mean over every item
  // of the step, as one batch of data.batch_size would give, whatever each micro-batch scores.
  int64_t loss_count = 0;
  int64_t correct = 0;  // scored predictions that were right (accuracy = correct / scored)
  int64_t scored = 0;
  int64_t tokens = 0;   // tokens processed by this rank (for tokens/s)

  void set_loss(const LossShare& share) { loss = share.loss, loss_count = share.count; }
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
  // The task's decoding of its held-out set for BLEU (seq2seq and encoder_decoder), else null.
  virtual DecodingTask* decoding() { return nullptr; }
};

}  // namespace attnscale::train

// Optimizer: updates a fixed list of named parameters in place from their .grad, and exposes its
// state as named tensors so checkpoints can save and restore it bit-exactly (and a resharding
// loader can match it by name).
//
// State names are "<family>.<slot>/<parameter name>", e.g. "adam.m/layers.0.attn.q_proj.weight".
// Every parameter has a step count "<family>.step/<name>" (int64 scalar: the updates applied to it;
// like PyTorch, a parameter without a gradient is skipped and its count does not advance). State
// tensors are allocated when the optimizer is built, with the parameter's shape, dtype and device
// (a parameter on a GPU is updated there by kernels/cuda/optim.h, its buffers never leave it), so
// state() is complete from the start. The step counts stay on the host: each update reads its
// parameter's count to form the bias corrections, which a count on the GPU would turn into a
// synchronising copy per parameter and step.
//
// The learning rate is not part of the state: it is a pure function of the step (lr_schedule.h),
// set by the caller before each step().
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framework/core/tensor/param_list.h"

namespace attnscale {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; runs under NoGradGuard.
  void step();
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);

  const std::vector<NamedTensor>& params() const { return params_; }
  // "sgd", "adam" or "adamw": how errors name this optimizer.
  const std::string& name() const { return name_; }
  // "sgd" or "adam" (Adam and AdamW share their state layout): the prefix of every state name.
  const std::string& family() const { return family_; }

  // Every state tensor by name, in parameter order. These are handles to the live tensors, not
  // copies: clone them to keep a snapshot.
  std::vector<NamedTensor> state() const;
  // Copies `saved` into the state. It must hold exactly the names state() gives, with the same
  // shapes and dtypes; otherwise throws CheckpointError naming the first mismatch and changes nothing.
  void load_state(std::span<const NamedTensor> saved);

 protected:
  // `slots`: the per-parameter state buffers this optimizer keeps ("m", "v", "momentum").
  Optimizer(std::vector<NamedTensor> params, double lr, std::string name, std::string family,
            std::vector<std::string> slots);

  // Updates parameter `index` from its contiguous gradient; `step` is its update count including
  // this one (1 on the first). buffers[k] is the state tensor of slots[k].
  virtual void update(size_t index, const Tensor& grad, int64_t step, std::span<Tensor> buffers) = 0;

 private:
  struct ParamState {
    Tensor step;                  // int64 scalar
    std::vector<Tensor> buffers;  // one per slot, shaped like the parameter
  };

  std::vector<NamedTensor> params_;
  std::vector<ParamState> states_;
  std::vector<std::string> slots_;
  std::string name_;
  std::string family_;
  double lr_;
};

// Throws UsageError("[where] name = value must be ...") unless low <= value (<= high / < high);
// high = std::numeric_limits<double>::max() means "no upper bound" (infinity and NaN still fail).
void check_hyperparameter(std::string_view where, std::string_view name, double value, double low, double high,
                          bool high_inclusive = true);

}  // namespace attnscale

// model.dtype bf16 (docs/ARCHITECTURE.md "Precision"): the model's parameters are stored in
// bfloat16 and every forward and backward runs on them, while the optimizer updates float32 master
// copies. The masters are what the optimizer, the data-parallel gradient reduction (so gradients
// are summed in float32), gradient clipping and checkpoints see, under the parameters' own names:
// a bf16 checkpoint is a float32 checkpoint, it resumes bit-exactly and loads into a float32 run,
// and a float32 checkpoint loads into a bf16 run.
//
// Per step: backward leaves float32 gradients on the bf16 parameters (the autograd engine
// accumulates a bf16 leaf's gradient in float32); collect_gradients() adds them to the masters';
// the optimizer updates the masters; refresh_model() rounds them (to nearest even) into the model.
// With float32 the masters are the parameters themselves and both calls do nothing.
#pragma once

#include <vector>

#include "framework/core/tensor/named_tensor.h"

namespace attnscale {

class MixedPrecision {
 public:
  // `params`: the model's parameters as built (float32). With dtype bf16 each becomes bf16 in
  // place (every handle to it, e.g. a tied embedding, sees the change) after a float32 copy is
  // kept as its master. dtype is f32 or bf16.
  MixedPrecision(std::vector<NamedTensor> params, DType dtype);

  DType dtype() const { return dtype_; }
  // The parameters the optimizer updates: the float32 masters (the model's parameters under f32).
  const std::vector<NamedTensor>& masters() const { return masters_; }

  // After a backward: each parameter's gradient is added to its master's and dropped.
  void collect_gradients();
  // After an update or a load into the masters: every parameter = its master, rounded.
  void refresh_model();

 private:
  DType dtype_;
  std::vector<NamedTensor> params_;   // the model's (bf16 after construction)
  std::vector<NamedTensor> masters_;  // float32, same names and order
};

}  // namespace attnscale

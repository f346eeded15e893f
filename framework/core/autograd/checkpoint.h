// Activation checkpointing (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"; as
// torch.utils.checkpoint and Megatron's full recompute): run a piece of the forward without
// recording it, keep only its input, and in the backward run it again with recording on and
// backpropagate through that copy. The memory of everything the piece computes is traded for
// running it twice.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale::autograd {

// fn(input) computed without a graph; its output's backward recomputes fn with a graph and runs
// the backward through it. `params`: the tensors fn reads that need gradients (a module's
// parameters); the inner backward accumulates theirs into .grad directly. fn must compute the
// same values both times (a random stream must be replayed from a copy of its state) and every
// loss term must flow through its output. Collectives inside fn run again in the backward, in the
// same order on every rank. Without grad mode (evaluation) this is fn(input).
Tensor checkpoint(std::string name, std::function<Tensor(const Tensor&)> fn, const Tensor& input,
                  const std::vector<Tensor>& params);

}  // namespace attnscale::autograd

// Where this rank stands in the run: which data-parallel replica it is and which part of each
// sequence it holds. Tasks use it to pick their batches and shard their sequences; the trainer to
// sum gradients and metrics over every rank.
#pragma once

#include "distributed/comm/process_grid.h"
#include "framework/core/tensor/device.h"
#include "kernels/layout.h"

namespace attnscale::train {

struct ParallelContext {
  // Every rank of the run; gradients, loss normalisation and metrics are summed over it. Null for
  // a single process (tests).
  Communicator* world = nullptr;
  // The process grid when there is one (null on a single process).
  const ProcessGrid* grid = nullptr;
  kernels::LayoutKind layout = kernels::LayoutKind::contiguous;
  // Where this rank's model and batches live (run.device; a GPU chosen by local rank).
  Device device = kCpu;

  int dp_rank() const { return grid ? grid->coords().dp : 0; }
  int dp_size() const { return grid ? grid->shape().dp : 1; }
  int cp_rank() const { return grid ? grid->coords().cp : 0; }
  int cp_size() const { return grid ? grid->shape().cp : 1; }
  int world_size() const { return world ? world->size() : 1; }
};

}  // namespace attnscale::train

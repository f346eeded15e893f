// Sums parameter gradients over a communicator (data-parallel replicas and/or context-parallel
// shards) in buckets: gradients are packed into buffers of about `bucket_bytes`, each bucket's
// all-reduce is started as soon as it is packed, and results are unpacked as they complete, so
// packing of later buckets overlaps the reduction of earlier ones.
//
// Buckets live on their parameters' device: on a GPU the communicator must take device buffers
// (distributed/device_communicator.h: NCCL, or MPI staged through pinned host memory).
//
// Every rank must call reduce() with the same parameter list (same names, shapes, dtypes, order);
// a parameter without a gradient on this rank contributes zeros, so the collectives always match.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "framework/core/tensor/named_tensor.h"

namespace attnscale {

class GradientReducer {
 public:
  GradientReducer(std::span<const NamedTensor> params, Communicator& comm, std::size_t bucket_bytes = 4u << 20);

  // grad <- sum over ranks of grad, for every parameter. A no-op on one rank.
  void reduce();

  std::size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    DType dtype;
    Device device;
    std::vector<std::size_t> params;  // indices into params_
    std::size_t elements = 0;
    Tensor buffer;                    // 1-d, dtype, elements
  };

  std::vector<NamedTensor> params_;
  Communicator& comm_;
  std::vector<Bucket> buckets_;
};

}  // namespace attnscale

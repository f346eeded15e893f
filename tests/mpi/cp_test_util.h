// Shared by the context-parallel tests: global tensors every rank draws identically, the shard a
// layout gives a rank, and (from tests/test_util/compare.h) the NaN-aware worst difference.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "distributed/context_parallel/sequence_shard.h"
#include "framework/core/tensor/tensor.h"
#include "kernels/layout.h"
#include "tests/test_util/compare.h"  // max_abs_diff

namespace attnscale::test {

// Normal values, the same on every rank for the same seed.
inline Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return Tensor::randn(shape, gen, dtype);
}

// Rows `positions` of the token axis (2) of a [B, H, N, W] tensor.
inline Tensor shard_rows(const Tensor& global, const kernels::Positions& positions) {
  const Shape& s = global.shape();
  const std::vector<double> all = global.to(DType::f64).to_vector<double>();
  return Tensor::from(cp::take_tokens<double>(all, s[0] * s[1], s[2], s[3], positions),
                      {s[0], s[1], positions.size(), s[3]})
      .to(global.dtype());
}

// Entries `positions` of per-token values [B, N].
inline std::vector<int32_t> shard_tokens(const std::vector<int32_t>& global, int64_t batch,
                                         const kernels::Positions& positions) {
  if (global.empty()) return {};
  return cp::take_tokens<int32_t>(global, batch, static_cast<int64_t>(global.size()) / batch, 1, positions);
}

// Sorted segment ids (packed documents): a new document starts with probability 1 / 6.
inline std::vector<int32_t> random_segments(int64_t batch, int64_t length, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids;
  for (int64_t b = 0; b < batch; ++b) {
    int32_t id = 0;
    for (int64_t i = 0; i < length; ++i) {
      if (i > 0 && rng() % 6 == 0) ++id;
      ids.push_back(id);
    }
  }
  return ids;
}

}  // namespace attnscale::test

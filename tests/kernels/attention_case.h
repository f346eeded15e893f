// One attention test case: shape, mask, positions and tiles; runs the kernels (float or double)
// forward and backward and compares every output with the naive fp64 reference.
#pragma once

#include <algorithm>
#include <memory>
#include <random>

#include "kernels/attention.h"
#include "tests/kernels/reference.h"

namespace attnscale::test {

struct AttentionCase {
  AttentionShape shape;
  double scale = 0;  // 0: 1/sqrt(D)
  MaskCase mask;
  kernels::Positions q_positions, k_positions;  // empty: q_offset + i and j
  int64_t q_offset = 0;
  kernels::TileSizes tiles{16, 24, 8, 16};
  uint64_t seed = 1;

  kernels::Positions q_pos() const {
    return q_positions.size() ? q_positions : kernels::Positions::contiguous(q_offset, shape.q_len);
  }
  kernels::Positions k_pos() const {
    return k_positions.size() ? k_positions : kernels::Positions::contiguous(0, shape.k_len);
  }
  double used_scale() const {
    return scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(shape.head_dim));
  }

  // The library's descriptor for this case; spans point into `mask`, `blocks` keeps the pattern.
  kernels::AttentionParams params() const {
    kernels::AttentionParams p;
    p.shape = shape;
    p.scale = used_scale();
    p.q_positions = q_pos();
    p.k_positions = k_pos();
    p.tiles = tiles;
    p.mask.causal = mask.causal;
    if (mask.window) p.mask.window = kernels::Window{mask.window->first, mask.window->second};
    if (mask.block_size > 0)
      p.mask.blocks = std::make_shared<kernels::BlockPattern>(
          mask.block_size, mask.block_rows, mask.block_cols, mask.blocks, mask.block_q_origin,
          mask.block_k_origin);
    p.mask.q_segment = mask.q_segment;
    p.mask.k_segment = mask.k_segment;
    p.mask.k_valid = mask.k_valid;
    return p;
  }
};

// Segment ids of `batch` rows of `len` tokens: `count` documents, sorted (packed sequences).
inline std::vector<int32_t> sorted_segments(int64_t batch, int64_t len, int64_t count,
                                            uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> seg(static_cast<size_t>(batch * len));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < len; ++i) seg[b * len + i] = static_cast<int32_t>(rng() % count);
    std::sort(seg.begin() + b * len, seg.begin() + (b + 1) * len);
  }
  return seg;
}

inline std::vector<int64_t> expand(const kernels::Positions& p) {
  std::vector<int64_t> out(static_cast<size_t>(p.size()));
  p.fill(out);
  return out;
}

struct CaseData {
  std::vector<double> q, k, v, dout;
  Reference ref;
};

inline CaseData make_data(const AttentionCase& c) {
  CaseData data;
  data.q = random_vector(c.shape.q_size(), c.seed * 4 + 0, -1.5, 1.5);
  data.k = random_vector(c.shape.k_size(), c.seed * 4 + 1, -1.5, 1.5);
  data.v = random_vector(c.shape.v_size(), c.seed * 4 + 2);
  data.dout = random_vector(c.shape.out_size(), c.seed * 4 + 3);
  data.ref = reference_attention(c.shape, c.used_scale(), c.mask, expand(c.q_pos()),
                                 expand(c.k_pos()), data.q, data.k, data.v, &data.dout);
  return data;
}

template <typename T>
struct KernelResult {
  std::vector<T> out, lse, dq, dk, dv;
};

template <typename T>
KernelResult<T> run_kernels(const AttentionCase& c, const CaseData& data) {
  const auto params = c.params();
  const auto q = cast<T>(data.q), k = cast<T>(data.k), v = cast<T>(data.v),
             dout = cast<T>(data.dout);
  KernelResult<T> r;
  r.out.assign(c.shape.out_size(), T(7));  // garbage: the kernel must overwrite
  r.lse.assign(c.shape.rows(), T(7));
  kernels::attention_forward<T>(params, {q, k, v, r.out, r.lse});
  std::vector<T> delta(c.shape.rows());
  kernels::attention_delta<T>(dout, r.out, c.shape.value_dim, delta);
  r.dq.assign(c.shape.q_size(), T(7));
  r.dk.assign(c.shape.k_size(), T(7));
  r.dv.assign(c.shape.v_size(), T(7));
  kernels::attention_backward<T>(params, {q, k, v, dout, r.lse, delta, r.dq, r.dk, r.dv});
  return r;
}

template <typename T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-4 : 1e-10;
}

template <typename T>
void check_case(const AttentionCase& c) {
  const CaseData data = make_data(c);
  const auto r = run_kernels<T>(c, data);
  const double tol = tolerance<T>();
  expect_close("out", r.out, data.ref.out, tol, tol);
  expect_close("lse", r.lse, data.ref.lse, tol, tol);
  expect_close("dq", r.dq, data.ref.dq, tol, tol);
  expect_close("dk", r.dk, data.ref.dk, tol, tol);
  expect_close("dv", r.dv, data.ref.dv, tol, tol);
}

}  // namespace attnscale::test

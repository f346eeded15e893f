// Sparsemax attention on the GPU: out_i = sum_j p_ij v_j with p_i = sparsemax(scale q_i . k_j over
// the allowed keys j). Sparsemax needs a whole row of scores to find its threshold tau, so a block
// owns one query row at a time and keeps its scores in a device scratch row (the CPU's general path
// likewise holds a row block: kernels/cpu/general_attention.cpp). The mask is kernels/mask.h's
// MaskView (the same predicate as every attention kernel), the threshold Michelot's iteration
// (kernels/cuda/sparsemax_row.cuh), the weights and gradients kernels/sparsemax.h's ATTNSCALE_HD
// formulas. Three kernels, no atomics (deterministic):
//   forward  (query row): scores, tau, out = sum_j p_j v_j.
//   rows     (query row): scores, tau, dp_j = dout . v_j on the support and its mean,
//            dq = scale sum_j (dp_j - mean) k_j; tau and the mean saved per row.
//   dk/dv    (key, one warp each): over the group's query rows, the score again (the same warp dot
//            as the rows kernel, so the same support), dk += scale (dp - mean) q, dv += p dout.
// Scores are dot products by a warp (lanes over the head dim, coalesced), so any head dim up to the
// shared-memory limit works; the weighted sums skip keys outside the support.
#include "kernels/cuda/sparsemax_attention.h"

#include <algorithm>

#include "kernels/cpu/attention_cpu.h"
#include "kernels/cuda/device_mask.cuh"
#include "kernels/cuda/launch_checks.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/cuda/sparsemax_row.cuh"
#include "kernels/mask.h"
#include "kernels/sparsemax.h"

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

using kernels::AttentionBackwardBuffers;
using kernels::AttentionForwardBuffers;
using kernels::AttentionParams;
using kernels::AttentionShape;
using kernels::MaskView;

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / kWarpSize;
// Device scratch for the blocks' score rows: more keys mean fewer blocks in flight, not more memory.
constexpr size_t kScratchBytes = size_t{64} << 20;

template <typename T>
struct Problem {
  int64_t batch, q_heads, kv_heads, n, m, d, dv;
  T scale;
  MaskView mask;  // batch row 0, device pointers

  __device__ int64_t rows() const { return batch * q_heads * n; }
  // The key/value row (batch, kv head) that query row bh = (batch, query head) reads.
  __device__ int64_t kv_of(int64_t bh) const {
    return bh / q_heads * kv_heads + bh % q_heads / (q_heads / kv_heads);
  }
};

template <typename T>
struct Args {
  Problem<T> p;
  const T *q, *k, *v, *dout;
  T *out, *dq, *dk, *dv;
  T* scores;        // [gridDim.x][m]: each block's row of scores
  T* dprobs;        // [gridDim.x][m]: backward, dout . v_j of the block's row
  T* tau;           // [rows]: backward, each row's threshold
  T* support_mean;  // [rows]: backward, each row's mean of dp over its support
  bool accumulate_dq, accumulate_dkv;
};

// sum_c a[c] * b[c] by the 32 lanes of a warp, lane l taking c = l, l + 32, ...: every lane gets
// the sum, and two calls on the same values give the same bits.
template <typename T>
__device__ __forceinline__ T warp_dot(const T* a, const T* b, int64_t len) {
  T sum = 0;
  for (int64_t c = lane_id(); c < len; c += kWarpSize) sum += a[c] * b[c];
  return warp_sum(sum);
}

// The score of query row `q` against key row `k`: the one expression the rows and dk/dv kernels
// both evaluate, so they agree on the support bit for bit.
template <typename T>
__device__ __forceinline__ T pair_score(const Problem<T>& p, const T* q, const T* k) {
  return warp_dot(q, k, p.d) * p.scale;
}

template <typename T>
__device__ __forceinline__ void load_row(const T* src, int64_t len, T* dst) {
  for (int64_t c = threadIdx.x; c < len; c += blockDim.x) dst[c] = src[c];
}

// scores[j] = the score of query i (row q_row) against key j of `k`, -inf where the mask forbids
// the pair; returns the row's threshold. Every thread of the block calls it.
template <typename T>
__device__ T score_row(const Problem<T>& p, const MaskView& view, int64_t i, const T* q_row,
                       const T* k, T* scores) {
  for (int64_t j = warp_id(); j < p.m; j += kWarps) {
    const bool allowed = view.allowed(i, j);  // the same in every lane of the warp
    const T s = allowed ? pair_score(p, q_row, k + j * p.d) : -math::infinity<T>();
    if (lane_id() == 0) scores[j] = s;
  }
  __syncthreads();
  return block_sparsemax_threshold(scores, p.m);
}

template <typename T>
__global__ __launch_bounds__(kThreads, 1) void sparsemax_attention_forward_kernel(Args<T> a) {
  const Problem<T>& p = a.p;
  T* q_s = dynamic_shared<T>();  // [d]
  T* scores = a.scores + blockIdx.x * p.m;
  for (int64_t row = blockIdx.x; row < p.rows(); row += gridDim.x) {
    const int64_t bh = row / p.n, i = row % p.n, kv = p.kv_of(bh);
    const MaskView view = p.mask.batch_row(bh / p.q_heads, p.n, p.m);
    __syncthreads();  // the previous row's q_s and scores are consumed
    load_row(a.q + row * p.d, p.d, q_s);
    __syncthreads();
    const T tau = score_row(p, view, i, q_s, a.k + kv * p.m * p.d, scores);
    const T* v = a.v + kv * p.m * p.dv;
    for (int64_t c = threadIdx.x; c < p.dv; c += blockDim.x) {
      T acc = 0;
      for (int64_t j = 0; j < p.m; ++j) {
        const T w = kernels::sparsemax_weight(scores[j], tau);
        if (w != T(0)) acc += w * v[j * p.dv + c];
      }
      a.out[row * p.dv + c] = acc;
    }
  }
}

template <typename T>
__global__ __launch_bounds__(kThreads, 1) void sparsemax_attention_rows_kernel(Args<T> a) {
  const Problem<T>& p = a.p;
  T* q_s = dynamic_shared<T>();  // [d]
  T* do_s = q_s + p.d;           // [dv]
  T* scores = a.scores + blockIdx.x * p.m;
  T* dprobs = a.dprobs + blockIdx.x * p.m;
  for (int64_t row = blockIdx.x; row < p.rows(); row += gridDim.x) {
    const int64_t bh = row / p.n, i = row % p.n, kv = p.kv_of(bh);
    const MaskView view = p.mask.batch_row(bh / p.q_heads, p.n, p.m);
    __syncthreads();
    load_row(a.q + row * p.d, p.d, q_s);
    load_row(a.dout + row * p.dv, p.dv, do_s);
    __syncthreads();
    const T* k = a.k + kv * p.m * p.d;
    const T tau = score_row(p, view, i, q_s, k, scores);

    // dp_j = dout . v_j on the support (lane 0 of the key's warp counts it).
    const T* v = a.v + kv * p.m * p.dv;
    T sum = 0, count = 0;
    for (int64_t j = warp_id(); j < p.m; j += kWarps) {
      const T w = kernels::sparsemax_weight(scores[j], tau);
      const T dp = w != T(0) ? warp_dot(do_s, v + j * p.dv, p.dv) : T(0);
      if (lane_id() == 0) {
        dprobs[j] = dp;
        if (w > T(0)) sum += dp, count += 1;
      }
    }
    sum = block_sum(sum);  // its barriers also publish dprobs to the block
    count = block_sum(count);
    const T mean = kernels::sparsemax_support_mean(sum, count);
    if (threadIdx.x == 0) a.tau[row] = tau, a.support_mean[row] = mean;

    for (int64_t c = threadIdx.x; c < p.d; c += blockDim.x) {
      T acc = 0;
      for (int64_t j = 0; j < p.m; ++j) {
        const T w = kernels::sparsemax_weight(scores[j], tau);
        if (w != T(0)) acc += kernels::sparsemax_grad(w, dprobs[j], mean) * k[j * p.d + c];
      }
      T& dq = a.dq[row * p.d + c];
      dq = a.accumulate_dq ? dq + p.scale * acc : p.scale * acc;
    }
  }
}

// One warp per key: its k, v rows and its dk, dv sums in the warp's slice of shared memory, each
// lane owning columns lane, lane + 32, ... (no exchange but the dot products' shuffles).
template <typename T>
__global__ __launch_bounds__(kThreads, 1) void sparsemax_attention_dkdv_kernel(Args<T> a) {
  const Problem<T>& p = a.p;
  const int64_t width = p.d + p.dv, group = p.q_heads / p.kv_heads;
  T* k_s = dynamic_shared<T>() + warp_id() * 2 * width;  // [d]
  T* v_s = k_s + p.d;                                    // [dv]
  T* dk_s = v_s + p.dv;                                  // [d]
  T* dv_s = dk_s + p.d;                                  // [dv]
  const int64_t key_blocks = (p.m + kWarps - 1) / kWarps;
  for (int64_t item = blockIdx.x; item < p.batch * p.kv_heads * key_blocks; item += gridDim.x) {
    const int64_t bg = item / key_blocks, j = item % key_blocks * kWarps + warp_id();
    if (j >= p.m) continue;  // warps are independent here: no block barrier below
    const int64_t b = bg / p.kv_heads, g = bg % p.kv_heads;
    const MaskView view = p.mask.batch_row(b, p.n, p.m);
    for (int64_t c = lane_id(); c < p.d; c += kWarpSize) k_s[c] = a.k[(bg * p.m + j) * p.d + c], dk_s[c] = 0;
    for (int64_t c = lane_id(); c < p.dv; c += kWarpSize) v_s[c] = a.v[(bg * p.m + j) * p.dv + c], dv_s[c] = 0;
    for (int64_t h = g * group; h < (g + 1) * group; ++h) {
      for (int64_t i = 0; i < p.n; ++i) {
        if (!view.allowed(i, j)) continue;
        const int64_t row = (b * p.q_heads + h) * p.n + i;
        const T* q = a.q + row * p.d;
        const T w = kernels::sparsemax_weight(pair_score(p, q, k_s), a.tau[row]);
        if (w == T(0)) continue;
        const T* dout = a.dout + row * p.dv;
        const T dscore = p.scale * kernels::sparsemax_grad(w, warp_dot(dout, v_s, p.dv), a.support_mean[row]);
        for (int64_t c = lane_id(); c < p.d; c += kWarpSize) dk_s[c] += dscore * q[c];
        for (int64_t c = lane_id(); c < p.dv; c += kWarpSize) dv_s[c] += w * dout[c];
      }
    }
    T* dk = a.dk + (bg * p.m + j) * p.d;
    T* dv = a.dv + (bg * p.m + j) * p.dv;
    for (int64_t c = lane_id(); c < p.d; c += kWarpSize) dk[c] = a.accumulate_dkv ? dk[c] + dk_s[c] : dk_s[c];
    for (int64_t c = lane_id(); c < p.dv; c += kWarpSize) dv[c] = a.accumulate_dkv ? dv[c] + dv_s[c] : dv_s[c];
  }
}

template <typename T>
Problem<T> make_problem(const AttentionParams& params, Scratch& scratch) {
  const AttentionShape& s = params.shape;
  check_limit("sparsemax attention", "head_dim", s.head_dim, kSparsemaxAttentionMaxHeadDim);
  check_limit("sparsemax attention", "value_dim", s.value_dim, kSparsemaxAttentionMaxHeadDim);
  return {s.batch,     s.q_heads,   s.kv_heads, s.q_len, s.k_len,
          s.head_dim,  s.value_dim, static_cast<T>(params.scale),
          device_mask_view(params, scratch)};
}

// Blocks of the row kernels: one per row, as many as `score_rows` scratch rows of M values per
// block fit in kScratchBytes (at least one).
template <typename T>
unsigned int row_grid(const AttentionShape& s, int score_rows) {
  const int64_t per_block = std::max<int64_t>(s.k_len, 1) * score_rows * static_cast<int64_t>(sizeof(T));
  const int64_t fit = std::max<int64_t>(static_cast<int64_t>(kScratchBytes) / per_block, 1);
  return static_cast<unsigned int>(std::min({s.rows(), kMaxGridBlocks, fit}));
}

}  // namespace

template <typename T>
void sparsemax_attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io,
                                 Stream stream) {
  kernels::cpu::check_attention_params(params, /*check_scale=*/true);
  kernels::cpu::check_forward_buffers(params.shape, io, /*with_lse=*/false);
  check_argument(io.lse.empty() && !io.merge_into_output, "sparsemax attention",
                 "sparsemax has no log-sum-exp: pass no lse and merge_into_output = false");
  const AttentionShape& s = params.shape;
  if (s.rows() == 0) return;
  Scratch scratch(stream);
  Args<T> a{};
  a.p = make_problem<T>(params, scratch);
  a.q = io.q.data(), a.k = io.k.data(), a.v = io.v.data(), a.out = io.out.data();
  const unsigned int blocks = row_grid<T>(s, 1);
  a.scores = scratch.allocate<T>(static_cast<size_t>(blocks * s.k_len));
  launch(sparsemax_attention_forward_kernel<T>, dim3(blocks), dim3(kThreads), s.head_dim * sizeof(T), stream, a);
}

template <typename T>
void sparsemax_attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io,
                                  Stream stream) {
  kernels::cpu::check_attention_params(params, /*check_scale=*/true);
  kernels::cpu::check_backward_buffers(params.shape, io, /*with_lse=*/false);
  check_argument(io.lse.empty() && io.delta.empty(), "sparsemax attention",
                 "the backward recomputes its weights: pass no lse and no delta");
  const AttentionShape& s = params.shape;
  if (s.batch == 0) return;
  Scratch scratch(stream);
  Args<T> a{};
  a.p = make_problem<T>(params, scratch);
  a.q = io.q.data(), a.k = io.k.data(), a.v = io.v.data(), a.dout = io.dout.data();
  a.dq = io.dq.data(), a.dk = io.dk.data(), a.dv = io.dv.data();
  a.accumulate_dq = io.accumulate_dq, a.accumulate_dkv = io.accumulate_dkv;
  a.tau = scratch.allocate<T>(static_cast<size_t>(s.rows()));
  a.support_mean = scratch.allocate<T>(static_cast<size_t>(s.rows()));
  if (s.rows() > 0) {
    const unsigned int blocks = row_grid<T>(s, 2);
    a.scores = scratch.allocate<T>(static_cast<size_t>(blocks * s.k_len));
    a.dprobs = scratch.allocate<T>(static_cast<size_t>(blocks * s.k_len));
    launch(sparsemax_attention_rows_kernel<T>, dim3(blocks), dim3(kThreads),
           (s.head_dim + s.value_dim) * sizeof(T), stream, a);
  }
  const int64_t key_items = s.batch * s.kv_heads * ((s.k_len + kWarps - 1) / kWarps);
  if (key_items > 0)
    launch(sparsemax_attention_dkdv_kernel<T>, dim3(static_cast<unsigned int>(std::min(key_items, kMaxGridBlocks))),
           dim3(kThreads), kWarps * 2 * (s.head_dim + s.value_dim) * sizeof(T), stream, a);
}

#define ATTNSCALE_INSTANTIATE(T)                                                                           \
  template void sparsemax_attention_forward<T>(const AttentionParams&, const AttentionForwardBuffers<T>&, \
                                               Stream);                                                   \
  template void sparsemax_attention_backward<T>(const AttentionParams&, const AttentionBackwardBuffers<T>&, \
                                                Stream);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

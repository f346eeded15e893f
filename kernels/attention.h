// Blockwise scaled-dot-product attention: backend-neutral entry points on raw buffers.
//
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:] . k[b,g,j,:]) v[b,g,j,:]
//   lse[b,h,i]   = log sum_j exp(scale * q . k)          over the allowed keys j
// with g = h / (q_heads / kv_heads) (grouped / multi-query heads) and the mask evaluated on the
// *global* positions of query i and key j (AttentionParams::q_positions / k_positions).
//
// Layouts (row-major, contiguous): q [B,Hq,N,D], k [B,Hkv,M,D], v [B,Hkv,M,Dv],
// out [B,Hq,N,Dv], lse / delta [B,Hq,N].
//
// Conventions:
//   - A query row with no allowed key gets out = 0 and lse = -inf (never NaN); its gradients are 0.
//   - lse is the natural log of the sum of exp(scaled scores); it never overflows (max-shifted).
//   - T = float runs the fused fp32 kernel (fp32 state); T = double runs the same tiled algorithm in
//     fp64, for gradient checks through the same entry point.
//
// Blockwise use (ring attention): call attention_forward for one query shard against one key
// shard with their global positions; the (out, lse) it returns is a partial state that
// merge_softmax_states (kernels/softmax_merge.h) combines, or set merge_into_output to fold it into
// the running state directly. The backward is called per key shard with the *final* lse and
// delta = rowsum(dout * out) of the final output (attention_delta), accumulating into dq and
// writing or accumulating dk, dv.
#pragma once

#include <cmath>

#include <cstdint>
#include <functional>
#include <span>

#include "kernels/layout.h"
#include "kernels/mask.h"

namespace attnscale::kernels {

enum class Backend { cpu, cuda };

struct AttentionShape {
  int64_t batch = 1;
  int64_t q_heads = 1;
  int64_t kv_heads = 1;  // divides q_heads
  int64_t q_len = 0;     // N
  int64_t k_len = 0;     // M
  int64_t head_dim = 0;  // D (queries and keys)
  int64_t value_dim = 0; // Dv

  int64_t q_size() const { return batch * q_heads * q_len * head_dim; }
  int64_t k_size() const { return batch * kv_heads * k_len * head_dim; }
  int64_t v_size() const { return batch * kv_heads * k_len * value_dim; }
  int64_t out_size() const { return batch * q_heads * q_len * value_dim; }
  int64_t rows() const { return batch * q_heads * q_len; }  // lse and delta entries
};

// Query and key rows per tile. The forward threads over batch x heads x query tiles, the backward
// over batch x kv heads x key tiles. Small tiles are legal (tests use them to get many tiles).
struct TileSizes {
  int64_t q = 64;
  int64_t k = 128;
  int64_t backward_q = 64;
  int64_t backward_k = 64;
};

struct AttentionParams {
  AttentionShape shape;
  double scale = 0.0;  // > 0; default_attention_params sets 1/sqrt(D)
  Mask mask;
  Positions q_positions;  // global positions of the N queries
  Positions k_positions;  // global positions of the M keys
  TileSizes tiles;
  Backend backend = Backend::cpu;
  // Called between tiles by the calling thread (never concurrently, never from a worker), so a
  // ring can drive its transfers in flight while this block computes: MPI does not progress on
  // its own (DESIGN.md 9). Must not throw. Empty = none.
  std::function<void()> progress;
};

// The one scale rule: a scale of 0 (attention.scale's default, AttentionSpec::scale's, every
// module option's) means 1/sqrt(head_dim) (Vaswani et al. 2017).
inline double score_scale(double scale, int64_t head_dim) {
  return scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
}

// Queries at global positions q_offset .. q_offset+N-1, keys at 0 .. M-1, scale 1/sqrt(D), no mask.
AttentionParams default_attention_params(const AttentionShape& shape, int64_t q_offset = 0);

template <typename T>
struct AttentionForwardBuffers {
  std::span<const T> q, k, v;
  std::span<T> out;  // [B,Hq,N,Dv]
  std::span<T> lse;  // [B,Hq,N]
  // false: overwrite (out, lse). true: merge this call's state into the (out, lse) already there
  // (initialise those to 0 and -inf before the first call).
  bool merge_into_output = false;
};

template <typename T>
struct AttentionBackwardBuffers {
  std::span<const T> q, k, v, dout;
  std::span<const T> lse;    // final lse of every query row [B,Hq,N]
  std::span<const T> delta;  // rowsum(dout * out) of the final output [B,Hq,N]
  std::span<T> dq, dk, dv;
  bool accumulate_dq = false;   // dq += instead of dq =
  bool accumulate_dkv = false;  // dk, dv += instead of =
};

// Shapes and spans are checked (UsageError "[attention] ..."). A backend without a kernel throws.
template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io);

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io);

// delta[r] = sum_c dout[r, c] * out[r, c] for rows r of length dv.
template <typename T>
void attention_delta(std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta);

}  // namespace attnscale::kernels

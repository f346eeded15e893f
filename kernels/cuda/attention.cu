// Fused scaled-dot attention on the GPU, FlashAttention-2 style, fp32 (and fp64 for gradient
// checks). The mask, tile classification, online-softmax update and (out, lse) merge are the
// ATTNSCALE_HD functions of kernels/mask.h and kernels/softmax_merge.h, the same code the CPU
// kernels run. The same source runs on the host emulator in CI (kernels/cuda/primitives.cuh).
//
// Three kernels, each a loop over tiles held in shared memory with register-blocked products
// (accumulate_outer: every thread owns an RM x RN block of the result):
//   forward  (batch, q head, 64 queries): for every non-empty 64-key tile
//            S = Q K^T, mask, online softmax (row max across the 16 threads of a row by warp
//            shuffles), O += P V; then out = O / sum, lse; or merged into (out, lse).
//   dk/dv    (batch, kv head, 64 keys): for every head of the group and non-empty 32-query tile
//            P^T = exp(scale K Q^T - lse), dP^T = V dO^T, dS^T = scale P^T (dP^T - delta),
//            dV += P^T dO, dK += dS^T Q.
//   dq       (batch, q head, 64 queries): for every non-empty 32-key tile the same P and dS,
//            dQ += dS K. A separate pass instead of atomics: deterministic, no dq race.
// A small kernel first summarises every tile (position and segment ranges, valid keys) with
// summarize_queries / summarize_keys, so classify_tile costs two loads per tile.
#include "kernels/cuda/attention.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/attention_cpu.h"
#include "kernels/cuda/device_mask.cuh"
#include "kernels/cuda/launch_checks.h"
#include "kernels/cuda/primitives.cuh"
#include "kernels/mask.h"
#include "kernels/softmax_merge.h"

// Unrolling hints for nvcc (g++ would warn about an unknown pragma in the host emulation).
#if defined(__CUDACC__)
#define ATTNSCALE_UNROLL _Pragma("unroll")
#define ATTNSCALE_UNROLL_2 _Pragma("unroll 2")
#else
#define ATTNSCALE_UNROLL
#define ATTNSCALE_UNROLL_2
#endif

namespace attnscale::cuda {
inline namespace ATTNSCALE_CUDA_ABI {

using kernels::AttentionBackwardBuffers;
using kernels::AttentionForwardBuffers;
using kernels::AttentionParams;
using kernels::AttentionShape;
using kernels::MaskView;
using kernels::TileKind;
using kernels::TileSummary;

namespace {

// ---- tile shapes --------------------------------------------------------------------------------
// Threads form 16 column groups; a thread's result columns are vectors of min(RN, 4) values,
// kColumnGroups * 4 columns apart (conflict-free 16-byte shared loads across a quarter warp).
constexpr int kColumnGroups = 16;
constexpr int kChunkStride = kColumnGroups * 4;
constexpr int kPad = 4;  // row padding of the transposed P / dS tiles (keeps 16-byte alignment)

struct ForwardTiles {
  static constexpr int kThreads = 128, kQueries = 64, kKeys = 64;
  static constexpr int kRowsPerThread = kQueries / (kThreads / kColumnGroups);  // 8
};
struct DkDvTiles {
  static constexpr int kThreads = 256, kQueries = 32, kKeys = 64;
  static constexpr int kKeysPerThread = kKeys / (kThreads / kColumnGroups);    // 4
  static constexpr int kQueriesPerThread = kQueries / kColumnGroups;           // 2
};
struct DqTiles {
  static constexpr int kThreads = 128, kQueries = 64, kKeys = 32;
  static constexpr int kRowsPerThread = kQueries / (kThreads / kColumnGroups);  // 8
  static constexpr int kKeysPerThread = kKeys / kColumnGroups;                  // 2
};

// ---- flat arguments (trivially copyable, passed by value) ------------------------------------------
template <typename T>
struct Problem {
  int64_t batch, q_heads, kv_heads, n, m, d, dv;
  T scale;
  MaskView mask;  // batch row 0, device pointers
  // Tile summaries of this kernel's tiling: [1 or batch][tiles] (per batch with per-token parts).
  const TileSummary* q_summary;
  const TileSummary* k_summary;
  int64_t q_tiles, k_tiles;
  bool per_batch;

  __device__ TileKind tile_kind(int64_t b, int64_t qt, int64_t kt) const {
    const int64_t row = per_batch ? b : 0;
    return kernels::classify_tile(mask.rule, q_summary[row * q_tiles + qt],
                                  k_summary[row * k_tiles + kt]);
  }
};

template <typename T>
struct ForwardArgs {
  Problem<T> p;
  const T *q, *k, *v;
  T *out, *lse;
  bool merge_into_output;
};

template <typename T>
struct BackwardArgs {
  Problem<T> p;
  const T *q, *k, *v, *dout, *lse, *delta;
  T *dq, *dk, *dv;
  bool accumulate_dq, accumulate_dkv;
};

// ---- shared-memory helpers -------------------------------------------------------------------------
// N consecutive values as one memory access (16-byte loads and stores on the GPU for float x 4).
// The emulation copies bytes (no aliasing of T through another type on the host).
template <typename T, int N>
struct alignas(sizeof(T) * N) Packet {
  T v[N];
};

template <int N, typename T>
__device__ __forceinline__ Packet<T, N> load_packet(const T* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const Packet<T, N>*>(p);
#else
  Packet<T, N> x;
  std::memcpy(&x, p, sizeof x);
  return x;
#endif
}

template <int N, typename T>
__device__ __forceinline__ void store_packet(T* p, const Packet<T, N>& x) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<Packet<T, N>*>(p) = x;
#else
  std::memcpy(p, &x, sizeof x);
#endif
}

// Values per 16-byte packet.
template <typename T>
constexpr int kPacket = static_cast<int>(16 / sizeof(T));

// out[0..N) = p[0..N) in packets of up to 16 bytes (p is aligned to them by construction).
template <int N, typename T>
__device__ __forceinline__ void load_vector(const T* p, T* out) {
  constexpr int P = N < kPacket<T> ? N : kPacket<T>;
  static_assert(N % P == 0, "load_vector: N must be a multiple of the packet");
  ATTNSCALE_UNROLL
  for (int i = 0; i < N / P; ++i) {
    const Packet<T, P> x = load_packet<P>(p + i * P);
    ATTNSCALE_UNROLL
    for (int e = 0; e < P; ++e) out[i * P + e] = x.v[e];
  }
}

// acc[r][c] += sum_{k < depth} a[k * lda + r] * b[k * ldb + (c / W) * kChunkStride + c % W],
// W = min(RN, 4): a thread's rows are contiguous in the k-major panel `a`, its columns are W-wide
// vectors of the k-major panel `b`.
template <int RM, int RN, typename T>
__device__ __forceinline__ void accumulate_outer(T (&acc)[RM][RN], const T* a, int lda, const T* b,
                                                 int ldb, int depth) {
  constexpr int W = RN < 4 ? RN : 4;
ATTNSCALE_UNROLL_2
  for (int k = 0; k < depth; ++k) {
    T x[RM], y[RN];
    load_vector<RM>(a + k * lda, x);
ATTNSCALE_UNROLL
    for (int t = 0; t < RN / W; ++t) load_vector<W>(b + k * ldb + t * kChunkStride, y + t * W);
ATTNSCALE_UNROLL
    for (int r = 0; r < RM; ++r)
ATTNSCALE_UNROLL
      for (int c = 0; c < RN; ++c) acc[r][c] += x[r] * y[c];
  }
}

// Column of element c of a thread's RN-wide result block, for column group `group`.
template <int RN>
__device__ __forceinline__ int owned_column(int group, int c) {
  constexpr int W = RN < 4 ? RN : 4;
  return (c / W) * kChunkStride + group * W + c % W;
}

// Rows [0, count) of a row-major [*, dim] global matrix into shared memory, zero-filled beyond
// count and dim: natural ([rows][H], dst[r * H + c]) or transposed ([H][rows], dst[c * rows + r]).
// Global reads are 16-byte packets when dim and the base allow it; consecutive threads take
// consecutive packets of a row (natural) or the same packet of consecutive rows (transposed, so
// that the shared-memory stores are conflict-free).
template <int H, bool kTransposed, typename T>
__device__ __forceinline__ void load_rows(const T* src, int64_t count, int64_t dim, int rows,
                                          T* dst) {
  constexpr int P = kPacket<T>;
  const int threads = static_cast<int>(blockDim.x);
  const bool packed = dim % P == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0;
  const int width = packed ? P : 1;  // values per read
  const int per_row = H / width;
  for (int e = static_cast<int>(threadIdx.x); e < rows * per_row; e += threads) {
    const int r = kTransposed ? e % rows : e / per_row;
    const int c = (kTransposed ? e / rows : e % per_row) * width;
    T x[P] = {};
    if (r < count && c < dim) {
      if (packed) {
        const Packet<T, P> packet = load_packet<P>(src + r * dim + c);
        ATTNSCALE_UNROLL
        for (int t = 0; t < P; ++t) x[t] = packet.v[t];
      } else {
        x[0] = src[r * dim + c];
      }
    }
    ATTNSCALE_UNROLL
    for (int t = 0; t < P; ++t) {
      if (t >= width) break;
      if (kTransposed) dst[(c + t) * rows + r] = x[t];
      else dst[r * H + c + t] = x[t];
    }
  }
}

// Is (query q0 + i, key k0 + j) allowed in a tile of this kind, with i < nq and j < nk checked.
__device__ __forceinline__ bool pair_allowed(const MaskView& view, TileKind kind, int64_t q0,
                                             int i, int64_t nq, int64_t k0, int j, int64_t nk) {
  if (i >= nq || j >= nk) return false;
  return kind == TileKind::full || view.allowed(q0 + i, k0 + j);
}

// Max over the 16 lanes of a column-group row (lanes 0-15 or 16-31 of a warp).
template <typename T>
__device__ __forceinline__ T row_group_max(T v) {
ATTNSCALE_UNROLL
  for (int offset = kColumnGroups / 2; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(kFullMask, v, offset);
    v = other > v ? other : v;
  }
  return v;
}
template <typename T>
__device__ __forceinline__ T row_group_sum(T v) {
ATTNSCALE_UNROLL
  for (int offset = kColumnGroups / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// What a forward or dq block owns: query tile qt of row bh = (batch b, query head) of the grid,
// which reads kv row kv. Late query tiles first: under a causal mask they have the most key tiles.
template <typename T>
struct QueryBlock {
  int64_t qt, bh, b, kv, q0, nq;
  MaskView view;

  __device__ QueryBlock(const Problem<T>& p, int64_t tile)
      : qt(p.q_tiles - 1 - blockIdx.x), bh(blockIdx.y), b(bh / p.q_heads),
        kv(b * p.kv_heads + bh % p.q_heads / (p.q_heads / p.kv_heads)), q0(qt * tile),
        nq(math::min<int64_t>(tile, p.n - q0)), view(p.mask.batch_row(b, p.n, p.m)) {}
};

// ---- tile summaries ----------------------------------------------------------------------------
// One thread per (batch row, tile) of one side: summary[row * tiles + t].
__global__ void summarize_tiles_kernel(MaskView mask, int64_t n, int64_t m, bool keys,
                                       int64_t tile, int64_t tiles, int64_t rows,
                                       TileSummary* summary) {
  for (int64_t e = global_index(); e < rows * tiles; e += global_stride()) {
    const int64_t row = e / tiles, t = e % tiles;
    const MaskView view = mask.batch_row(row, n, m);
    const int64_t begin = t * tile, end = math::min(begin + tile, keys ? m : n);
    summary[e] = keys ? kernels::summarize_keys(view, begin, end)
                      : kernels::summarize_queries(view, begin, end);
  }
}

// ---- forward ------------------------------------------------------------------------------------
template <typename T, int H>
struct ForwardSmem {
  using F = ForwardTiles;
  static constexpr int kPLd = F::kQueries + kPad;
  static constexpr size_t q_t = 0;                         // [H][kQueries]
  static constexpr size_t k_t = q_t + H * F::kQueries;     // [H][kKeys]
  static constexpr size_t v = k_t + H * F::kKeys;          // [kKeys][H]
  static constexpr size_t p_t = v + F::kKeys * H;          // [kKeys][kPLd]
  static constexpr size_t elements = p_t + F::kKeys * kPLd;
  static constexpr size_t bytes = elements * sizeof(T);
};

template <typename T, int H>
__global__ __launch_bounds__(ForwardTiles::kThreads, 1) void attention_forward_kernel(
    ForwardArgs<T> a) {
  using F = ForwardTiles;
  using L = ForwardSmem<T, H>;
  constexpr int RM = F::kRowsPerThread, RS = F::kKeys / kColumnGroups, RN = H / kColumnGroups;
  constexpr T neg_inf = kernels::neg_infinity<T>();
  const Problem<T>& p = a.p;
  T* smem = dynamic_shared<T>();
  T *q_t = smem + L::q_t, *k_t = smem + L::k_t, *v_s = smem + L::v, *p_t = smem + L::p_t;

  const int tid = static_cast<int>(threadIdx.x);
  const int rg = tid / kColumnGroups, cg = tid % kColumnGroups, row0 = rg * RM;
  // Late query tiles first: under a causal mask they have the most key tiles.
  const QueryBlock<T> blk(p, F::kQueries);
  const int64_t qt = blk.qt, bh = blk.bh, b = blk.b, kv = blk.kv, q0 = blk.q0, nq = blk.nq;
  const MaskView& view = blk.view;

  load_rows<H, true>(a.q + (bh * p.n + q0) * p.d, nq, p.d, F::kQueries, q_t);

  T acc[RM][RN] = {};
  T run_max[RM], run_sum[RM];  // run_sum: this thread's columns only, summed over the row at the end
ATTNSCALE_UNROLL
  for (int r = 0; r < RM; ++r) run_max[r] = neg_inf, run_sum[r] = T{0};

  for (int64_t kt = 0; kt < p.k_tiles; ++kt) {
    const TileKind kind = p.tile_kind(b, qt, kt);  // the same in every thread
    if (kind == TileKind::empty) continue;
    const int64_t k0 = kt * F::kKeys, nk = math::min<int64_t>(F::kKeys, p.m - k0);
    __syncthreads();  // the previous tile's k_t, v, p_t are consumed
    load_rows<H, true>(a.k + (kv * p.m + k0) * p.d, nk, p.d, F::kKeys, k_t);
    load_rows<H, false>(a.v + (kv * p.m + k0) * p.dv, nk, p.dv, F::kKeys, v_s);
    __syncthreads();

    T s[RM][RS] = {};
    accumulate_outer(s, q_t + row0, F::kQueries, k_t + cg * RS, F::kKeys,
                     static_cast<int>(p.d));
ATTNSCALE_UNROLL
    for (int r = 0; r < RM; ++r) {
      T tile_max = neg_inf;
ATTNSCALE_UNROLL
      for (int c = 0; c < RS; ++c) {
        const bool ok = pair_allowed(view, kind, q0, row0 + r, nq, k0, owned_column<RS>(cg, c), nk);
        s[r][c] = ok ? s[r][c] * p.scale : neg_inf;
        tile_max = s[r][c] > tile_max ? s[r][c] : tile_max;
      }
      const auto step = kernels::online_softmax_step(run_max[r], row_group_max(tile_max));
      const T rescale = math::exp(step.log_rescale);
      run_sum[r] *= rescale;
ATTNSCALE_UNROLL
      for (int c = 0; c < RN; ++c) acc[r][c] *= rescale;
ATTNSCALE_UNROLL
      for (int c = 0; c < RS; ++c) {
        const T prob = math::exp(s[r][c] - step.shift);  // exp(-inf) = 0 for masked pairs
        run_sum[r] += prob;
        p_t[owned_column<RS>(cg, c) * L::kPLd + row0 + r] = prob;
      }
    }
    __syncthreads();
    accumulate_outer(acc, p_t + row0, L::kPLd, v_s + cg * 4, H, F::kKeys);
  }

  // out = acc / sum and lse per row; every thread holds RN of the row's columns.
ATTNSCALE_UNROLL
  for (int r = 0; r < RM; ++r) {
    const T sum = row_group_sum(run_sum[r]);
    const T row_lse = kernels::online_softmax_lse(run_max[r], sum);
    const T inv = sum > T{0} ? T{1} / sum : T{0};
    const bool in = row0 + r < nq;  // the same for the 16 threads of the row
    const int64_t row = bh * p.n + q0 + row0 + r;
    T* out_row = a.out + row * p.dv;
    T values[RN];
ATTNSCALE_UNROLL
    for (int c = 0; c < RN; ++c) values[c] = acc[r][c] * inv;
    if (a.merge_into_output) {
      // Every thread of the row merges its columns with the old lse, read before anyone writes.
      const T old_lse = in ? a.lse[row] : neg_inf;
      __syncwarp();
      constexpr int W = RN < 4 ? RN : 4;
ATTNSCALE_UNROLL
      for (int t = 0; t < RN / W; ++t) {
        const int64_t c0 = owned_column<RN>(cg, t * W);
        T merged_lse = old_lse;
        if (in && c0 < p.dv)
          kernels::merge_softmax_row(out_row + c0, merged_lse, values + t * W, row_lse,
                                     math::min<int64_t>(W, p.dv - c0));
      }
      if (in && cg == 0) {
        T merged_lse = old_lse;
        kernels::merge_softmax_row<T>(nullptr, merged_lse, nullptr, row_lse, 0);
        a.lse[row] = merged_lse;
      }
    } else if (in) {
ATTNSCALE_UNROLL
      for (int c = 0; c < RN; ++c) {
        const int64_t col = owned_column<RN>(cg, c);
        if (col < p.dv) out_row[col] = values[c];
      }
      if (cg == 0) a.lse[row] = row_lse;
    }
  }
}

// ---- backward: dK, dV ------------------------------------------------------------------------------
template <typename T, int H>
struct DkDvSmem {
  using F = DkDvTiles;
  static constexpr size_t k_t = 0;                         // [H][kKeys]
  static constexpr size_t v_t = k_t + H * F::kKeys;        // [H][kKeys]
  static constexpr size_t q_t = v_t + H * F::kKeys;        // [H][kQueries]
  static constexpr size_t do_t = q_t + H * F::kQueries;    // [H][kQueries]
  static constexpr size_t q = do_t + H * F::kQueries;      // [kQueries][H]
  static constexpr size_t dout = q + F::kQueries * H;      // [kQueries][H]
  static constexpr size_t prob = dout + F::kQueries * H;   // [kQueries][kKeys]
  static constexpr size_t ds = prob + F::kQueries * F::kKeys;  // [kQueries][kKeys]
  static constexpr size_t elements = ds + F::kQueries * F::kKeys;
  static constexpr size_t bytes = elements * sizeof(T);
};

template <typename T, int H>
__global__ __launch_bounds__(DkDvTiles::kThreads, 1) void attention_dkdv_kernel(BackwardArgs<T> a) {
  using F = DkDvTiles;
  using L = DkDvSmem<T, H>;
  constexpr int RK = F::kKeysPerThread, RQ = F::kQueriesPerThread, RN = H / kColumnGroups;
  constexpr T neg_inf = kernels::neg_infinity<T>();
  const Problem<T>& p = a.p;
  T* smem = dynamic_shared<T>();
  T *k_t = smem + L::k_t, *v_t = smem + L::v_t, *q_t = smem + L::q_t, *do_t = smem + L::do_t;
  T *q_s = smem + L::q, *do_s = smem + L::dout, *prob_s = smem + L::prob, *ds_s = smem + L::ds;

  const int tid = static_cast<int>(threadIdx.x);
  const int kg = tid / kColumnGroups, cg = tid % kColumnGroups, key0 = kg * RK;
  const int64_t kt = blockIdx.x, bg = blockIdx.y;
  const int64_t b = bg / p.kv_heads, g = bg % p.kv_heads, group = p.q_heads / p.kv_heads;
  const int64_t k0 = kt * F::kKeys, nk = math::min<int64_t>(F::kKeys, p.m - k0);
  const MaskView view = p.mask.batch_row(b, p.n, p.m);

  load_rows<H, true>(a.k + (bg * p.m + k0) * p.d, nk, p.d, F::kKeys, k_t);
  load_rows<H, true>(a.v + (bg * p.m + k0) * p.dv, nk, p.dv, F::kKeys, v_t);

  T dk[RK][RN] = {}, dv[RK][RN] = {};
  for (int64_t h = g * group; h < (g + 1) * group; ++h) {
    const int64_t bh = b * p.q_heads + h;
    for (int64_t qt = 0; qt < p.q_tiles; ++qt) {
      const TileKind kind = p.tile_kind(b, qt, kt);
      if (kind == TileKind::empty) continue;
      const int64_t q0 = qt * F::kQueries, nq = math::min<int64_t>(F::kQueries, p.n - q0);
      const T* q = a.q + (bh * p.n + q0) * p.d;
      const T* dout = a.dout + (bh * p.n + q0) * p.dv;
      __syncthreads();  // the previous tile's shared operands are consumed
      load_rows<H, true>(q, nq, p.d, F::kQueries, q_t);
      load_rows<H, true>(dout, nq, p.dv, F::kQueries, do_t);
      load_rows<H, false>(q, nq, p.d, F::kQueries, q_s);
      load_rows<H, false>(dout, nq, p.dv, F::kQueries, do_s);
      __syncthreads();

      T st[RK][RQ] = {}, dpt[RK][RQ] = {};
      accumulate_outer(st, k_t + key0, F::kKeys, q_t + cg * RQ, F::kQueries,
                       static_cast<int>(p.d));
      accumulate_outer(dpt, v_t + key0, F::kKeys, do_t + cg * RQ, F::kQueries,
                       static_cast<int>(p.dv));
ATTNSCALE_UNROLL
      for (int c = 0; c < RQ; ++c) {
        const int i = owned_column<RQ>(cg, c);
        const int64_t row = bh * p.n + q0 + i;
        const T lse = i < nq ? a.lse[row] : neg_inf;
        const T delta = i < nq ? a.delta[row] : T{0};
ATTNSCALE_UNROLL
        for (int r = 0; r < RK; ++r) {
          const bool ok = lse != neg_inf && pair_allowed(view, kind, q0, i, nq, k0, key0 + r, nk);
          const T prob = ok ? math::exp(st[r][c] * p.scale - lse) : T{0};
          prob_s[i * F::kKeys + key0 + r] = prob;
          ds_s[i * F::kKeys + key0 + r] = p.scale * prob * (dpt[r][c] - delta);
        }
      }
      __syncthreads();
      accumulate_outer(dv, prob_s + key0, F::kKeys, do_s + cg * 4, H, F::kQueries);
      accumulate_outer(dk, ds_s + key0, F::kKeys, q_s + cg * 4, H, F::kQueries);
    }
  }

ATTNSCALE_UNROLL
  for (int r = 0; r < RK; ++r) {
    const int64_t j = key0 + r;
    if (j >= nk) continue;
    T* dk_row = a.dk + (bg * p.m + k0 + j) * p.d;
    T* dv_row = a.dv + (bg * p.m + k0 + j) * p.dv;
ATTNSCALE_UNROLL
    for (int c = 0; c < RN; ++c) {
      const int64_t col = owned_column<RN>(cg, c);
      if (col < p.d) dk_row[col] = a.accumulate_dkv ? dk_row[col] + dk[r][c] : dk[r][c];
      if (col < p.dv) dv_row[col] = a.accumulate_dkv ? dv_row[col] + dv[r][c] : dv[r][c];
    }
  }
}

// ---- backward: dQ -----------------------------------------------------------------------------------
template <typename T, int H>
struct DqSmem {
  using F = DqTiles;
  static constexpr int kDsLd = F::kQueries + kPad;
  static constexpr size_t q_t = 0;                         // [H][kQueries]
  static constexpr size_t do_t = q_t + H * F::kQueries;    // [H][kQueries]
  static constexpr size_t k_t = do_t + H * F::kQueries;    // [H][kKeys]
  static constexpr size_t v_t = k_t + H * F::kKeys;        // [H][kKeys]
  static constexpr size_t k = v_t + H * F::kKeys;          // [kKeys][H]
  static constexpr size_t ds_t = k + F::kKeys * H;         // [kKeys][kDsLd]
  static constexpr size_t elements = ds_t + F::kKeys * kDsLd;
  static constexpr size_t bytes = elements * sizeof(T);
};

template <typename T, int H>
__global__ __launch_bounds__(DqTiles::kThreads, 1) void attention_dq_kernel(BackwardArgs<T> a) {
  using F = DqTiles;
  using L = DqSmem<T, H>;
  constexpr int RM = F::kRowsPerThread, RK = F::kKeysPerThread, RN = H / kColumnGroups;
  constexpr T neg_inf = kernels::neg_infinity<T>();
  const Problem<T>& p = a.p;
  T* smem = dynamic_shared<T>();
  T *q_t = smem + L::q_t, *do_t = smem + L::do_t, *k_t = smem + L::k_t, *v_t = smem + L::v_t;
  T *k_s = smem + L::k, *ds_t = smem + L::ds_t;

  const int tid = static_cast<int>(threadIdx.x);
  const int rg = tid / kColumnGroups, cg = tid % kColumnGroups, row0 = rg * RM;
  const QueryBlock<T> blk(p, F::kQueries);
  const int64_t qt = blk.qt, bh = blk.bh, b = blk.b, kv = blk.kv, q0 = blk.q0, nq = blk.nq;
  const MaskView& view = blk.view;

  load_rows<H, true>(a.q + (bh * p.n + q0) * p.d, nq, p.d, F::kQueries, q_t);
  load_rows<H, true>(a.dout + (bh * p.n + q0) * p.dv, nq, p.dv, F::kQueries, do_t);
  T lse[RM], delta[RM];
ATTNSCALE_UNROLL
  for (int r = 0; r < RM; ++r) {
    const bool in = row0 + r < nq;
    lse[r] = in ? a.lse[bh * p.n + q0 + row0 + r] : neg_inf;
    delta[r] = in ? a.delta[bh * p.n + q0 + row0 + r] : T{0};
  }

  T dq[RM][RN] = {};
  for (int64_t kt = 0; kt < p.k_tiles; ++kt) {
    const TileKind kind = p.tile_kind(b, qt, kt);
    if (kind == TileKind::empty) continue;
    const int64_t k0 = kt * F::kKeys, nk = math::min<int64_t>(F::kKeys, p.m - k0);
    const T* k = a.k + (kv * p.m + k0) * p.d;
    __syncthreads();
    load_rows<H, true>(k, nk, p.d, F::kKeys, k_t);
    load_rows<H, true>(a.v + (kv * p.m + k0) * p.dv, nk, p.dv, F::kKeys, v_t);
    load_rows<H, false>(k, nk, p.d, F::kKeys, k_s);
    __syncthreads();

    T s[RM][RK] = {}, dp[RM][RK] = {};
    accumulate_outer(s, q_t + row0, F::kQueries, k_t + cg * RK, F::kKeys, static_cast<int>(p.d));
    accumulate_outer(dp, do_t + row0, F::kQueries, v_t + cg * RK, F::kKeys,
                     static_cast<int>(p.dv));
ATTNSCALE_UNROLL
    for (int r = 0; r < RM; ++r)
ATTNSCALE_UNROLL
      for (int c = 0; c < RK; ++c) {
        const int j = owned_column<RK>(cg, c);
        const bool ok = lse[r] != neg_inf && pair_allowed(view, kind, q0, row0 + r, nq, k0, j, nk);
        const T prob = ok ? math::exp(s[r][c] * p.scale - lse[r]) : T{0};
        ds_t[j * L::kDsLd + row0 + r] = p.scale * prob * (dp[r][c] - delta[r]);
      }
    __syncthreads();
    accumulate_outer(dq, ds_t + row0, L::kDsLd, k_s + cg * 4, H, F::kKeys);
  }

ATTNSCALE_UNROLL
  for (int r = 0; r < RM; ++r) {
    if (row0 + r >= nq) continue;
    T* dq_row = a.dq + (bh * p.n + q0 + row0 + r) * p.d;
ATTNSCALE_UNROLL
    for (int c = 0; c < RN; ++c) {
      const int64_t col = owned_column<RN>(cg, c);
      if (col < p.d) dq_row[col] = a.accumulate_dq ? dq_row[col] + dq[r][c] : dq[r][c];
    }
  }
}

// ---- delta --------------------------------------------------------------------------------------
// One warp per row.
template <typename T>
__global__ void attention_delta_kernel(const T* dout, const T* out, int64_t rows, int64_t dv,
                                       T* delta) {
  const int64_t warps = global_stride() / kWarpSize;
  for (int64_t r = global_index() / kWarpSize; r < rows; r += warps) {
    T sum = 0;
    for (int64_t c = lane_id(); c < dv; c += kWarpSize) sum += dout[r * dv + c] * out[r * dv + c];
    sum = warp_sum(sum);
    if (lane_id() == 0) delta[r] = sum;
  }
}

// ---- host side ------------------------------------------------------------------------------------
// The flat device view of params for one tiling: positions expanded and uploaded, the block
// pattern uploaded, and every tile summarised on the device.
template <typename T>
Problem<T> make_problem(const AttentionParams& params, int64_t q_tile, int64_t k_tile,
                        Scratch& scratch, Stream stream) {
  const AttentionShape& s = params.shape;
  Problem<T> p{};
  p.batch = s.batch, p.q_heads = s.q_heads, p.kv_heads = s.kv_heads;
  p.n = s.q_len, p.m = s.k_len, p.d = s.head_dim, p.dv = s.value_dim;
  p.scale = static_cast<T>(params.scale);
  p.q_tiles = (p.n + q_tile - 1) / q_tile;
  p.k_tiles = (p.m + k_tile - 1) / k_tile;

  p.mask = device_mask_view(params, scratch);
  p.per_batch = params.mask.has_segments() || params.mask.has_key_padding();
  const int64_t rows = p.per_batch ? p.batch : 1;
  TileSummary* q_summary = scratch.allocate<TileSummary>(static_cast<size_t>(rows * p.q_tiles));
  TileSummary* k_summary = scratch.allocate<TileSummary>(static_cast<size_t>(rows * p.k_tiles));
  constexpr int threads = 128;
  if (p.q_tiles > 0)
    launch(summarize_tiles_kernel, dim3(blocks_for(rows * p.q_tiles, threads)), dim3(threads), 0,
           stream, p.mask, p.n, p.m, false, q_tile, p.q_tiles, rows, q_summary);
  if (p.k_tiles > 0)
    launch(summarize_tiles_kernel, dim3(blocks_for(rows * p.k_tiles, threads)), dim3(threads), 0,
           stream, p.mask, p.n, p.m, true, k_tile, p.k_tiles, rows, k_summary);
  p.q_summary = q_summary;
  p.k_summary = k_summary;
  return p;
}

// The kernel instance for the smallest supported H >= max(head_dim, value_dim).
template <typename T, typename Run>
void with_head_dim(const AttentionShape& s, Run run) {
  check_limit("attention", "head_dim", s.head_dim, attention_max_head_dim<T>());
  check_limit("attention", "value_dim", s.value_dim, attention_max_head_dim<T>());
  if (std::max(s.head_dim, s.value_dim) <= 64) {
    run(std::integral_constant<int, 64>{});
  } else if constexpr (attention_max_head_dim<T>() >= 128) {
    run(std::integral_constant<int, 128>{});
  }
}

// Dynamic shared memory per block (ptxas does not print it): float H=128 forward 113 KiB, dk/dv
// 144 KiB, dq 120.5 KiB; double H=64 forward 130 KiB, dk/dv 160 KiB, dq 129 KiB. All within the
// 163 KiB a block may opt into on sm_80 (227 KiB on sm_90).
constexpr size_t kMaxSharedBytes = 163 * 1024;
static_assert(ForwardSmem<float, 128>::bytes <= kMaxSharedBytes &&
              DkDvSmem<float, 128>::bytes <= kMaxSharedBytes &&
              DqSmem<float, 128>::bytes <= kMaxSharedBytes);
static_assert(ForwardSmem<double, 64>::bytes <= kMaxSharedBytes &&
              DkDvSmem<double, 64>::bytes <= kMaxSharedBytes &&
              DqSmem<double, 64>::bytes <= kMaxSharedBytes);

dim3 grid_of(int64_t tiles, int64_t rows) {
  return dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(rows));
}

}  // namespace

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io,
                       Stream stream) {
  kernels::cpu::check_attention_params(params, /*check_scale=*/true);
  kernels::cpu::check_forward_buffers(params.shape, io, /*with_lse=*/true);
  const AttentionShape& s = params.shape;
  if (s.rows() == 0) return;
  with_head_dim<T>(s, [&](auto head) {
    constexpr int H = decltype(head)::value;
    using F = ForwardTiles;
    Scratch scratch(stream);
    ForwardArgs<T> args{make_problem<T>(params, F::kQueries, F::kKeys, scratch, stream),
                        io.q.data(), io.k.data(), io.v.data(), io.out.data(), io.lse.data(),
                        io.merge_into_output};
    launch(attention_forward_kernel<T, H>, grid_of(args.p.q_tiles, s.batch * s.q_heads),
           dim3(F::kThreads), ForwardSmem<T, H>::bytes, stream, args);
  });
}

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io,
                        Stream stream) {
  kernels::cpu::check_attention_params(params, /*check_scale=*/true);
  kernels::cpu::check_backward_buffers(params.shape, io, /*with_lse=*/true);
  const AttentionShape& s = params.shape;
  if (s.batch == 0) return;
  with_head_dim<T>(s, [&](auto head) {
    constexpr int H = decltype(head)::value;
    Scratch scratch(stream);
    BackwardArgs<T> args{{},
                         io.q.data(),
                         io.k.data(),
                         io.v.data(),
                         io.dout.data(),
                         io.lse.data(),
                         io.delta.data(),
                         io.dq.data(),
                         io.dk.data(),
                         io.dv.data(),
                         io.accumulate_dq,
                         io.accumulate_dkv};
    {
      using F = DkDvTiles;
      args.p = make_problem<T>(params, F::kQueries, F::kKeys, scratch, stream);
      if (args.p.k_tiles > 0)
          launch(attention_dkdv_kernel<T, H>, grid_of(args.p.k_tiles, s.batch * s.kv_heads),
               dim3(F::kThreads), DkDvSmem<T, H>::bytes, stream, args);
    }
    {
      using F = DqTiles;
      args.p = make_problem<T>(params, F::kQueries, F::kKeys, scratch, stream);
      if (args.p.q_tiles > 0)
        launch(attention_dq_kernel<T, H>, grid_of(args.p.q_tiles, s.batch * s.q_heads),
               dim3(F::kThreads), DqSmem<T, H>::bytes, stream, args);
    }
  });
}

template <typename T>
void attention_delta(std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta, Stream stream) {
  kernels::cpu::check_delta_sizes(dout.size(), out.size(), dv, delta.size());
  const auto rows = static_cast<int64_t>(delta.size());
  if (rows == 0) return;
  constexpr int threads = 256;
  launch(attention_delta_kernel<T>, dim3(blocks_for(rows * kWarpSize, threads)), dim3(threads), 0,
         stream, dout.data(), out.data(), rows, dv, delta.data());
}

#define ATTNSCALE_INSTANTIATE(T)                                                                  \
  template void attention_forward<T>(const AttentionParams&, const AttentionForwardBuffers<T>&,  \
                                     Stream);                                                     \
  template void attention_backward<T>(const AttentionParams&,                                     \
                                      const AttentionBackwardBuffers<T>&, Stream);                \
  template void attention_delta<T>(std::span<const T>, std::span<const T>, int64_t, std::span<T>, \
                                   Stream);
ATTNSCALE_INSTANTIATE(float)
ATTNSCALE_INSTANTIATE(double)
#undef ATTNSCALE_INSTANTIATE

}  // namespace ATTNSCALE_CUDA_ABI
}  // namespace attnscale::cuda

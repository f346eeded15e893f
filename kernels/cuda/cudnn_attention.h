// cuDNN's fused attention (SDPA) through the cuDNN frontend's graph API: the fast path of
// `attention.kernel` for f16/bf16 where kernels/attention_kernel.h's cudnn_attention_fit says cuDNN
// can express the mask. Compiled only with CUDA, cuDNN and the frontend headers
// (ATTNSCALE_HAVE_CUDNN_FRONTEND; scripts/install-deps.sh fetches the headers). The frontend is
// used in cudnn_attention.cpp alone (it takes about a minute to compile), so no frontend type
// appears here.
//
// Same layouts as kernels/attention.h: q [B,Hq,N,D], k [B,Hkv,M,D], v [B,Hkv,M,Dv],
// out [B,Hq,N,Dv] in `dtype`; lse [B,Hq,N] in fp32, natural log (cuDNN's softmax stats). One graph
// per SdpaGraphKey, built once and cached per CudnnAttention (one per device and host thread).
//
// What runs without a GPU: validate_sdpa_graph (cuDNN checks a graph against its support rules for
// an sm version; the `cudnn` tests do it for every graph the program can build). Status: forward
// and backward have never executed (no GPU was available).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "kernels/attention_kernel.h"
#include "kernels/cuda/stream.h"

namespace attnscale::cuda {

enum class SdpaDirection { forward, backward };

// Everything a cuDNN SDPA graph is built from: a graph serves every call with the same key.
struct SdpaGraphKey {
  SdpaDirection direction = SdpaDirection::forward;
  kernels::AttentionDType dtype = kernels::AttentionDType::bf16;  // f16 or bf16
  kernels::SmVersion sm = 90;
  int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 0, k_len = 0, head_dim = 0, value_dim = 0;
  float scale = 0.0f;  // the score scale (> 0), baked into the graph
  kernels::CudnnMaskForm mask;

  auto operator<=>(const SdpaGraphKey&) const = default;
};

// The key of a call that cudnn_attention_fit accepted (params.shape, the scale rule, fit.mask).
SdpaGraphKey sdpa_graph_key(SdpaDirection direction, const kernels::AttentionParams& params,
                            kernels::AttentionDType dtype, kernels::SmVersion sm, const kernels::CudnnMaskForm& mask);

// "sdpa backward bf16 sm_90 B2 H8/2 N1000 M1000 D128/128 causal(R=0) window(L=256) padding"
std::string sdpa_graph_name(const SdpaGraphKey& key);

// Builds the graph for `key` and validates it against cuDNN's support rules for key.sm: no GPU
// needed. Throws UsageError "[cudnn_attention] <graph>: <cuDNN's message>" when cuDNN refuses it.
void validate_sdpa_graph(const SdpaGraphKey& key);

// The frontend version compiled against ("1.32.0"), for `attnscale version`.
std::string cudnn_frontend_version();

// Device pointers; `lse` is fp32. k_lengths (host, [batch]) only with key.mask.padding.
struct SdpaForwardArgs {
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  void* out = nullptr;
  float* lse = nullptr;
  std::span<const int32_t> k_lengths;
};
struct SdpaBackwardArgs {
  const void *q = nullptr, *k = nullptr, *v = nullptr, *out = nullptr, *dout = nullptr;
  const float* lse = nullptr;  // the forward's
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;  // written (not accumulated)
  std::span<const int32_t> k_lengths;
};

// One cuDNN handle and its graph cache, for the current device and this host thread (as cuDNN
// asks). Move-only. The constructor throws RuntimeFailure "[cudnn_attention] ..." without a device.
class CudnnAttention {
 public:
  CudnnAttention();
  ~CudnnAttention();
  CudnnAttention(CudnnAttention&&) noexcept;
  CudnnAttention& operator=(CudnnAttention&&) noexcept;
  CudnnAttention(const CudnnAttention&) = delete;
  CudnnAttention& operator=(const CudnnAttention&) = delete;

  // Workspace bytes a call with `key` needs (builds and caches its plan on first use). The caller
  // hands that much device memory (the device pool's, stream-ordered on `stream`) to forward /
  // backward.
  size_t workspace_bytes(const SdpaGraphKey& key);

  // Enqueue the graph of `key` on `stream`; `workspace` holds workspace_bytes(key) bytes.
  void forward(const SdpaGraphKey& key, const SdpaForwardArgs& args, std::span<std::byte> workspace, Stream stream);
  void backward(const SdpaGraphKey& key, const SdpaBackwardArgs& args, std::span<std::byte> workspace,
                Stream stream);

  size_t cached_graphs() const;

 private:
  struct Graph;  // a built graph, its workspace size and its sequence-length buffer
  Graph& graph_for(const SdpaGraphKey& key);
  void execute(Graph& graph, const SdpaGraphKey& key, std::span<const int32_t> k_lengths,
               std::map<int64_t, void*> pointers, std::span<std::byte> workspace, Stream stream);

  struct Handle;  // the cudnnHandle_t, destroyed last
  std::unique_ptr<Handle> handle_;
  std::map<SdpaGraphKey, std::unique_ptr<Graph>> graphs_;
};

}  // namespace attnscale::cuda

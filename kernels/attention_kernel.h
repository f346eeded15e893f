// Which kernel runs a fused attention call: our own (kernels/attention.h, kernels/cuda/attention.h)
// or cuDNN's fused attention (kernels/cuda/cudnn_attention.h). The values of `attention.kernel`
// (auto, own, cudnn), the one check of what cuDNN can express (cudnn_attention_fit) and the one
// choice (choose_attention_kernel), with its reason in words for the log. Backend-neutral: it reads
// only descriptors, so the config check, the attention op and the tests share it, with or without
// CUDA.
//
// cuDNN's SDPA sees query row i and key column j of one batch row, not global positions. Its masks
// (top-left diagonal) are:
//   right bound R >= 0   keeps j <= i + R            (causal: R = 0)
//   left bound  L >= 1   keeps j >  i - L            (sliding window of L keys)
//   padding             keeps j <  k_length[b]       (per batch row)
// Our mask (kernels/mask.h) is on global positions, so with queries at q0 + i and keys at k0 + j
// (one contiguous run each) and d = q0 - k0:
//   causal                 -> R = d
//   window(left, right)    -> L = left - d + 1, R = d + right (the tighter R with causal)
//   key padding            -> k_length[b] when the row's present keys are a prefix
//   segments               -> only when each batch row is one segment (then they mask nothing)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/attention.h"

namespace attnscale::kernels {

// ---- attention.kernel ----------------------------------------------------------------------------
enum class AttentionKernel { own, cudnn, auto_ };
inline constexpr std::array<std::string_view, 3> kAttentionKernelNames{"own", "cudnn", "auto"};
std::string_view attention_kernel_name(AttentionKernel kernel);

// The element type of q, k, v and out. cuDNN's fused attention takes f16 and bf16 (its support
// matrix lists nothing else); the own kernels take f32 and f64.
enum class AttentionDType { f64, f32, f16, bf16 };
std::string_view attention_dtype_name(AttentionDType dtype);  // "float32", "bfloat16", ...

// The GPU's compute capability as major * 10 + minor (80 = A100, 90 = H100); 0 = no GPU (CPU
// tensors).
using SmVersion = int;

// ---- what cuDNN can express ---------------------------------------------------------------------
// The mask in cuDNN's terms (see the top of this file). Part of a graph's cache key.
struct CudnnMaskForm {
  std::optional<int64_t> left_bound;   // L >= 1
  std::optional<int64_t> right_bound;  // R >= 0
  bool padding = false;                // per-batch-row key lengths (seq_len_kv)

  bool operator==(const CudnnMaskForm&) const = default;
  auto operator<=>(const CudnnMaskForm&) const = default;
};

// Why a call cannot go to cuDNN (the first reason, in this order).
enum class CudnnMisfit {
  dtype,                  // not f16 / bf16
  architecture,           // no GPU, or older than sm_80
  head_dim,               // D or Dv not a multiple of 8, or above 128
  block_pattern,          // block-sparse masks have no cuDNN form
  segments,               // a batch row holds several segments (packed documents)
  positions,              // causal / window over non-contiguous positions (zigzag, striped shards)
  key_padding,            // a batch row's present keys are not a prefix
  band,                   // the positional parts give L < 1 or R < 0 (e.g. keys after all queries)
  window_longer_queries,  // cuDNN's sliding window needs q_len <= k_len (without padding)
  fully_masked_rows,      // some query has no allowed key: we promise out 0 / lse -inf, cuDNN nothing
};
inline constexpr int kCudnnMisfitCount = 10;
std::string_view cudnn_misfit_name(CudnnMisfit misfit);  // "fully_masked_rows"

struct CudnnFit {
  std::optional<CudnnMisfit> misfit;  // none: cuDNN can run the call exactly
  std::string reason;                 // the misfit in words, with the numbers
  CudnnMaskForm mask;                 // when it fits
  std::vector<int32_t> k_lengths;     // [batch] with mask.padding

  bool fits() const { return !misfit.has_value(); }
};

// Whether cuDNN's SDPA computes exactly what attention_forward / attention_backward would for
// `params` (shape, scale, mask, positions) with elements of `dtype` on a GPU of compute capability
// `sm`, and the mask in cuDNN's terms when it does. The mask's per-token spans (segments, k_valid)
// are read here: they must be host memory (AttentionSpec keeps them on the host). Pure.
CudnnFit cudnn_attention_fit(const AttentionParams& params, AttentionDType dtype, SmVersion sm);

// Whether this build has cuDNN attention (kernels/cuda/cudnn_attention.h: CUDA, cuDNN and the
// cuDNN frontend headers were found).
bool cudnn_attention_compiled();

// ---- the choice ---------------------------------------------------------------------------------
struct AttentionKernelChoice {
  AttentionKernel kernel;  // own or cudnn
  std::string reason;      // for the log line: "cudnn: bf16, causal as right bound 0 on sm_90"
  CudnnFit fit;            // the mask form and key lengths when kernel is cudnn
};

// What runs a call: `requested` own -> own; auto -> cudnn when this build has it
// (`cudnn_compiled`) and cudnn_attention_fit accepts the call, own otherwise (with the reason);
// cudnn -> cudnn, or a UsageError "[attention] attention.kernel = cudnn: <reason>" when it cannot.
AttentionKernelChoice choose_attention_kernel(AttentionKernel requested, const AttentionParams& params,
                                              AttentionDType dtype, SmVersion sm, bool cudnn_compiled);

}  // namespace attnscale::kernels

#include "kernels/attention_kernel.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::kernels {
namespace {

CudnnFit refuse(CudnnMisfit misfit, std::string reason) {
  CudnnFit fit;
  fit.misfit = misfit;
  fit.reason = std::move(reason);
  return fit;
}

// The one run of a Positions when it is a contiguous run (stride 1), or none.
std::optional<int64_t> contiguous_start(const Positions& positions) {
  const auto runs = positions.runs();
  if (runs.empty()) return int64_t{0};
  if (runs.size() == 1 && (runs[0].stride == 1 || runs[0].count == 1)) return runs[0].start;
  return std::nullopt;
}

// Segments mask nothing when every query and key of each batch row carries the same id.
bool one_segment_per_row(const Mask& mask, int64_t batch, int64_t n, int64_t m) {
  for (int64_t b = 0; b < batch; ++b) {
    const auto qs = mask.q_segment.subspan(b * n, n), ks = mask.k_segment.subspan(b * m, m);
    const int32_t id = !qs.empty() ? qs[0] : (!ks.empty() ? ks[0] : 0);
    const auto same = [id](int32_t s) { return s == id; };
    if (!std::all_of(qs.begin(), qs.end(), same) || !std::all_of(ks.begin(), ks.end(), same)) return false;
  }
  return true;
}

std::string bounds_text(const CudnnMaskForm& form) {
  std::string text;
  if (form.right_bound) text += fmt::format("right bound {}", *form.right_bound);
  if (form.left_bound) text += fmt::format("{}left bound {}", text.empty() ? "" : ", ", *form.left_bound);
  if (form.padding) text += fmt::format("{}key lengths", text.empty() ? "" : ", ");
  return text.empty() ? "no mask" : text;
}

}  // namespace

std::string_view attention_kernel_name(AttentionKernel kernel) {
  return kAttentionKernelNames[static_cast<size_t>(kernel)];
}

std::string_view attention_dtype_name(AttentionDType dtype) {
  switch (dtype) {
    case AttentionDType::f64: return "float64";
    case AttentionDType::f32: return "float32";
    case AttentionDType::f16: return "float16";
    case AttentionDType::bf16: return "bfloat16";
  }
  return "?";
}

std::string_view cudnn_misfit_name(CudnnMisfit misfit) {
  static constexpr std::array<std::string_view, kCudnnMisfitCount> names{
      "dtype",    "architecture", "head_dim", "block_pattern",         "segments",
      "positions", "key_padding", "band",     "window_longer_queries", "fully_masked_rows"};
  return names[static_cast<size_t>(misfit)];
}

CudnnFit cudnn_attention_fit(const AttentionParams& params, AttentionDType dtype, SmVersion sm) {
  const AttentionShape& s = params.shape;
  const Mask& mask = params.mask;
  if (dtype != AttentionDType::f16 && dtype != AttentionDType::bf16)
    return refuse(CudnnMisfit::dtype, fmt::format("cuDNN's fused attention takes bfloat16 or float16, not {}",
                                                  attention_dtype_name(dtype)));
  if (sm < 80)
    return refuse(CudnnMisfit::architecture,
                  sm == 0 ? std::string("no GPU (cuDNN's fused attention runs on sm_80 and newer)")
                          : fmt::format("sm_{} (cuDNN's fused attention needs sm_80 or newer)", sm));
  for (const int64_t d : {s.head_dim, s.value_dim})
    if (d % 8 != 0 || d > 128)
      return refuse(CudnnMisfit::head_dim,
                    fmt::format("head dims {}/{} (cuDNN needs multiples of 8; the graphs CI validates go up to 128)",
                                s.head_dim, s.value_dim));
  if (mask.blocks)
    return refuse(CudnnMisfit::block_pattern, "a block-sparse pattern (cuDNN has causal, band and padding masks only)");
  if (mask.has_segments() && !one_segment_per_row(mask, s.batch, s.q_len, s.k_len))
    return refuse(CudnnMisfit::segments,
                  "segment ids vary within a batch row (packed documents would need cuDNN's ragged layout)");

  CudnnFit fit;
  if (mask.causal || mask.window) {
    const auto q0 = contiguous_start(params.q_positions), k0 = contiguous_start(params.k_positions);
    if (!q0 || !k0)
      return refuse(CudnnMisfit::positions,
                    "a causal or window mask over non-contiguous positions (zigzag or striped shards): cuDNN's band "
                    "is on row and column indices");
    const int64_t d = *q0 - *k0;  // query i sits at key column i + d
    if (mask.causal) fit.mask.right_bound = d;
    if (mask.window) {
      const int64_t right = d + mask.window->right;
      fit.mask.right_bound = fit.mask.right_bound ? std::min(*fit.mask.right_bound, right) : right;
      fit.mask.left_bound = mask.window->left - d + 1;
    }
    if ((fit.mask.right_bound && *fit.mask.right_bound < 0) || (fit.mask.left_bound && *fit.mask.left_bound < 1))
      return refuse(CudnnMisfit::band,
                    fmt::format("queries from position {} and keys from {} give {} (cuDNN needs right >= 0, left >= 1)",
                                *q0, *k0, bounds_text(fit.mask)));
  }

  int64_t shortest = s.k_len;  // the fewest keys a batch row has
  if (mask.has_key_padding()) {
    fit.mask.padding = true;
    for (int64_t b = 0; b < s.batch; ++b) {
      const auto valid = mask.k_valid.subspan(b * s.k_len, s.k_len);
      const auto end = std::find(valid.begin(), valid.end(), 0);
      if (std::any_of(end, valid.end(), [](int32_t v) { return v != 0; }))
        return refuse(CudnnMisfit::key_padding,
                      fmt::format("batch row {}: the present keys are not a prefix (cuDNN takes a length per row)", b));
      fit.k_lengths.push_back(static_cast<int32_t>(end - valid.begin()));
      shortest = std::min<int64_t>(shortest, fit.k_lengths.back());
    }
  }
  if (fit.mask.left_bound && !fit.mask.padding && s.q_len > s.k_len)
    return refuse(CudnnMisfit::window_longer_queries,
                  fmt::format("a window with {} queries and {} keys (cuDNN's sliding window needs q_len <= k_len)",
                              s.q_len, s.k_len));
  // Row i keeps columns [max(0, i - L + 1), min(len - 1, i + R)]; with L >= 1 and R >= 0 that is
  // empty only when len = 0 or the last row's window starts at or past len.
  if (s.q_len > 0 && (shortest == 0 || (fit.mask.left_bound && s.q_len - *fit.mask.left_bound >= shortest)))
    return refuse(CudnnMisfit::fully_masked_rows,
                  fmt::format("some query has no allowed key ({}, {} queries, {} keys in the shortest row): we "
                              "promise out 0 and lse -inf there, cuDNN promises nothing",
                              bounds_text(fit.mask), s.q_len, shortest));
  fit.reason = bounds_text(fit.mask);
  return fit;
}

bool cudnn_attention_compiled() {
#if ATTNSCALE_HAVE_CUDNN_FRONTEND
  return true;
#else
  return false;
#endif
}

AttentionKernelChoice choose_attention_kernel(AttentionKernel requested, const AttentionParams& params,
                                              AttentionDType dtype, SmVersion sm, bool cudnn_compiled) {
  if (requested == AttentionKernel::own) return {AttentionKernel::own, "own: attention.kernel = own", {}};
  const auto own_because = [&](std::string why) {
    if (requested == AttentionKernel::cudnn)
      throw UsageError(fmt::format("[attention] attention.kernel = cudnn: {}", why));
    return AttentionKernelChoice{AttentionKernel::own, fmt::format("own: cuDNN cannot run it: {}", why), {}};
  };
  if (!cudnn_compiled)
    return own_because("this build has no cuDNN attention (CUDA, cuDNN or the cuDNN frontend headers were missing "
                       "when it was configured)");
  CudnnFit fit = cudnn_attention_fit(params, dtype, sm);
  if (!fit.fits()) return own_because(fit.reason);
  std::string reason = fmt::format("cudnn: {} on sm_{}, {}", attention_dtype_name(dtype), sm, fit.reason);
  return {AttentionKernel::cudnn, std::move(reason), std::move(fit)};
}

}  // namespace attnscale::kernels

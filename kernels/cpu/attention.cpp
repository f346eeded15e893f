// Entry points of kernels/attention.h: argument checks, then the backend's kernel.
#include "kernels/attention.h"

#include <cmath>

#include "base/error.h"
#include "kernels/cpu/attention_cpu.h"

namespace attnscale::kernels {

namespace cpu {

void check_attention_params(const AttentionParams& p, bool check_scale) {
  const AttentionShape& s = p.shape;
  ATTNSCALE_CHECK(s.batch >= 0 && s.q_len >= 0 && s.k_len >= 0, "attention",
                  "batch ({}), q_len ({}) and k_len ({}) must not be negative", s.batch, s.q_len,
                  s.k_len);
  ATTNSCALE_CHECK(s.head_dim >= 1 && s.value_dim >= 1, "attention",
                  "head_dim ({}) and value_dim ({}) must be >= 1", s.head_dim, s.value_dim);
  ATTNSCALE_CHECK(s.kv_heads >= 1 && s.q_heads >= 1 && s.q_heads % s.kv_heads == 0, "attention",
                  "q_heads ({}) must be a positive multiple of kv_heads ({})", s.q_heads,
                  s.kv_heads);
  if (check_scale)
    ATTNSCALE_CHECK(std::isfinite(p.scale) && p.scale > 0, "attention",
                    "scale must be finite and > 0, got {}", p.scale);
  ATTNSCALE_CHECK(p.q_positions.size() == s.q_len, "attention",
                  "q_positions hold {} positions, q_len is {}", p.q_positions.size(), s.q_len);
  ATTNSCALE_CHECK(p.k_positions.size() == s.k_len, "attention",
                  "k_positions hold {} positions, k_len is {}", p.k_positions.size(), s.k_len);
  ATTNSCALE_CHECK(p.tiles.q >= 1 && p.tiles.k >= 1 && p.tiles.backward_q >= 1 &&
                      p.tiles.backward_k >= 1,
                  "attention", "tile sizes must be >= 1");
  validate_mask(p.mask, s.batch, s.q_len, s.k_len);
}

void check_delta_sizes(size_t dout, size_t out, int64_t dv, size_t delta) {
  ATTNSCALE_CHECK(dv >= 1 && dout == out &&
                      static_cast<int64_t>(out) == static_cast<int64_t>(delta) * dv,
                  "attention", "delta: dout ({}), out ({}) must both be delta ({}) x dv ({})",
                  dout, out, delta, dv);
}

void check_buffer_size(const char* name, size_t got, int64_t expected) {
  ATTNSCALE_CHECK(static_cast<int64_t>(got) == expected, "attention",
                  "{} has {} elements, the shape needs {}", name, got, expected);
}

}  // namespace cpu

namespace {

[[noreturn]] void no_kernel(const char* op) {
  throw UsageError(fmt::format(
      "[attention] {} has no CUDA kernel in this build; run it on the CPU backend", op));
}

}  // namespace

AttentionParams default_attention_params(const AttentionShape& shape, int64_t q_offset) {
  AttentionParams p;
  p.shape = shape;
  p.scale = score_scale(0, shape.head_dim);
  p.q_positions = Positions::contiguous(q_offset, shape.q_len);
  p.k_positions = Positions::contiguous(0, shape.k_len);
  return p;
}

template <typename T>
void attention_forward(const AttentionParams& params, const AttentionForwardBuffers<T>& io) {
  cpu::check_attention_params(params, /*check_scale=*/true);
  cpu::check_forward_buffers(params.shape, io, /*with_lse=*/true);
  if (params.backend == Backend::cuda) no_kernel("attention_forward");
  cpu::attention_forward(params, io);
}

template <typename T>
void attention_backward(const AttentionParams& params, const AttentionBackwardBuffers<T>& io) {
  cpu::check_attention_params(params, /*check_scale=*/true);
  cpu::check_backward_buffers(params.shape, io, /*with_lse=*/true);
  if (params.backend == Backend::cuda) no_kernel("attention_backward");
  cpu::attention_backward(params, io);
}

template <typename T>
void attention_delta(std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta) {
  cpu::check_delta_sizes(dout.size(), out.size(), dv, delta.size());
  const auto rows = static_cast<int64_t>(delta.size());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    T sum = 0;
    for (int64_t c = 0; c < dv; ++c) sum += dout[r * dv + c] * out[r * dv + c];
    delta[r] = sum;
  }
}

template void attention_forward<float>(const AttentionParams&,
                                       const AttentionForwardBuffers<float>&);
template void attention_forward<double>(const AttentionParams&,
                                        const AttentionForwardBuffers<double>&);
template void attention_backward<float>(const AttentionParams&,
                                        const AttentionBackwardBuffers<float>&);
template void attention_backward<double>(const AttentionParams&,
                                         const AttentionBackwardBuffers<double>&);
template void attention_delta<float>(std::span<const float>, std::span<const float>, int64_t,
                                     std::span<float>);
template void attention_delta<double>(std::span<const double>, std::span<const double>, int64_t,
                                      std::span<double>);

}  // namespace attnscale::kernels
